"""A provider's credentials, resolved at run time from the `credential_ref` of its
provider_configs row — never stored in the database, never logged, never returned.

References: `env:RETOUCH_SECRET_<NAME>` (an environment variable: the local stack, and SCF,
where the deploy fills it from a secret store), `secretsmanager:<name>` (AWS Secrets Manager)
and `ssm:/<path>` (an SSM SecureString), the last two read through Powertools Parameters,
whose cache keeps a value for `RETOUCH_SECRETS_CACHE_S` (a rotated secret is picked up within
that time). A value is either a JSON object of strings (`{"secret_id": ..., "secret_key":
...}`) or a bare string, which stands for `{"api_key": <string>}`.

boto3 and Powertools Parameters are imported on first use: a step function that only runs the
`local` provider never loads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from retouch.core.settings import get_settings, secret_variable

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters.base import BaseProvider


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


def own_references(provider_key: str) -> tuple[str, ...]:
    """The credential references `provider_key` may name: its own secret in each store."""
    return (
        f"secretsmanager:{PROVIDER_SECRETS_PATH}{provider_key}",
        f"ssm:/{PROVIDER_SECRETS_PATH}{provider_key}",
        f"env:RETOUCH_SECRET_{provider_key.upper()}",
    )


def resolve_credentials(reference: str | None, *, provider_key: str) -> Credentials:
    """The credentials `reference` names; CredentialsUnavailable when it names nothing or
    names a secret that is not `provider_key`'s own."""
    if not reference:
        raise CredentialsUnavailable("the provider has no credential_ref")
    if reference not in own_references(provider_key):
        raise CredentialsUnavailable(f"credential_ref is not provider {provider_key!r}'s own")
    source, _, name = reference.partition(":")
    if source == "env":
        raw = secret_variable(name)
    elif source in ("secretsmanager", "ssm"):
        raw = _aws_parameter(source, name)
    else:
        raise CredentialsUnavailable(f"unknown credential source {source!r}")
    if raw is None:
        raise CredentialsUnavailable(f"{source} reference names no value")
    return Credentials(_parse(raw, source))


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


def _aws_parameter(source: str, name: str) -> str | None:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
    from botocore.exceptions import BotoCoreError, ClientError

    max_age = int(get_settings().secrets_cache_s)
    try:
        if source == "secretsmanager":
            value = _secrets_provider(source).get(name, max_age=max_age)
        else:
            value = _secrets_provider(source).get(name, max_age=max_age, decrypt=True)
    except (GetParameterError, BotoCoreError, ClientError) as exc:
        raise CredentialsUnavailable(f"{source} read failed: {type(exc).__name__}") from None
    if isinstance(value, bytes):
        return value.decode()
    return None if value is None else str(value)


@cache
def _secrets_provider(source: str) -> BaseProvider:
    """The Powertools provider of `source`, with its cache (forgotten by reset_clients)."""
    import boto3
    from aws_lambda_powertools.utilities.parameters import SecretsProvider, SSMProvider

    endpoint = get_settings().secrets_endpoint_url
    if source == "secretsmanager":
        return SecretsProvider(boto3_client=boto3.client("secretsmanager", endpoint_url=endpoint))
    return SSMProvider(boto3_client=boto3.client("ssm", endpoint_url=endpoint))


def forget_secrets() -> None:
    """Drop the secret providers and their cached values (tests, settings reloads)."""
    _secrets_provider.cache_clear()
