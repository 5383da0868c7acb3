"""A provider's credentials, resolved at run time from the `credential_ref` of its
provider_configs row — never stored in the database, never logged, never returned.

A reference names the provider's own secret, and nothing else (not our database password, not
another provider's key): `tcssm:retouch-providers-<key>` (Tencent Cloud SSM, whose secret
names allow no `/`), `secretsmanager:retouch/providers/<key>` (AWS Secrets Manager),
`ssm:/retouch/providers/<key>` (an SSM SecureString) or `env:RETOUCH_SECRET_<KEY>` (a
variable: the local stack; on SCF the variable holds `tcssm:retouch-providers-<key>`, which
is read through, bound to the provider the same way). They are read through
`retouch.core.secrets`, whose cache keeps a value for `RETOUCH_SECRETS_CACHE_S` (a rotated
secret is picked up within that time). A value is either a JSON object of strings
(`{"secret_id": ..., "secret_key": ...}`) or a bare string, which stands for
`{"api_key": <string>}`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from retouch.core import secrets
from retouch.core.secrets import SecretUnavailable


class CredentialsUnavailable(Exception):
    """The reference is missing, malformed or names nothing; the message never holds a
    secret."""


class Credentials:
    """Named secret strings; a repr or a log line shows only the names."""

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = {name: SecretStr(value) for name, value in values.items()}

    def __getitem__(self, name: str) -> str:
        try:
            return self._values[name].get_secret_value()
        except KeyError:
            raise CredentialsUnavailable(f"the credential has no {name!r}") from None

    def get(self, name: str) -> str | None:
        value = self._values.get(name)
        return None if value is None else value.get_secret_value()

    def __repr__(self) -> str:
        return f"Credentials({sorted(self._values)})"


#: Where every provider's secret lives in Secrets Manager and SSM (the IAM grants cover
#: exactly this prefix): `retouch/providers/<provider key>`.
PROVIDER_SECRETS_PATH = "retouch/providers/"
#: Its name in Tencent SSM (the CAM grant covers exactly this prefix).
TENCENT_PROVIDER_SECRETS_PREFIX = "retouch-providers-"


def own_references(provider_key: str) -> tuple[str, ...]:
    """The credential references `provider_key` may name: its own secret in each store."""
    return (
        f"secretsmanager:{PROVIDER_SECRETS_PATH}{provider_key}",
        f"ssm:/{PROVIDER_SECRETS_PATH}{provider_key}",
        f"env:RETOUCH_SECRET_{provider_key.upper()}",
        f"tcssm:{TENCENT_PROVIDER_SECRETS_PREFIX}{provider_key}",
    )


def resolve_credentials(reference: str | None, *, provider_key: str) -> Credentials:
    """The credentials `reference` names; CredentialsUnavailable when it names nothing or
    names a secret that is not `provider_key`'s own."""
    if not reference:
        raise CredentialsUnavailable("the provider has no credential_ref")
    if reference not in own_references(provider_key):
        raise CredentialsUnavailable(f"credential_ref is not provider {provider_key!r}'s own")
    raw, source = _read(reference)
    if source == "env" and raw.startswith(_STORE_SCHEMES):
        # A deployment's variable may hold a reference to the store instead of the value
        # (SCF: RETOUCH_SECRET_<KEY>=tcssm:retouch-providers-<key>): read through it, bound
        # to the provider like any reference.
        if raw not in own_references(provider_key):
            raise CredentialsUnavailable(
                f"the variable's reference is not provider {provider_key!r}'s own"
            )
        raw, source = _read(raw)
    return Credentials(_parse(raw, source))


#: Schemes of the secret stores a variable may point to (never `env:` again).
_STORE_SCHEMES = ("tcssm:", "secretsmanager:", "ssm:")


def _read(reference: str) -> tuple[str, str]:
    source = reference.partition(":")[0]
    try:
        return secrets.get_secret(reference), source
    except SecretUnavailable as exc:
        detail = "names no value" if source == "env" else f"read failed: {exc.reason}"
        raise CredentialsUnavailable(f"{source} reference {detail}") from None


def _parse(raw: str, source: str) -> dict[str, str]:
    if not raw.lstrip().startswith("{"):
        return {"api_key": raw.strip()}
    try:
        document: Any = json.loads(raw)
    except ValueError:
        raise CredentialsUnavailable(f"{source} value is not a JSON object") from None
    if not isinstance(document, dict) or not all(
        isinstance(value, str) for value in document.values()
    ):
        raise CredentialsUnavailable(f"{source} value is not an object of strings")
    return {str(key): value for key, value in document.items()}


def forget_secrets() -> None:
    """Drop the cached secrets and the stores' clients (tests, settings reloads)."""
    secrets.forget_secrets()
