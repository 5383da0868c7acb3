"""The service's own secrets: the MySQL password and the JWT keys, from the settings
(RETOUCH_DB_PASSWORD, RETOUCH_JWT_KEYS: local stack, tests) or read through their references
(RETOUCH_DB_PASSWORD_SECRET, RETOUCH_JWT_KEYS_SECRET) when first needed.

Rotation: a cached value lives RETOUCH_SECRETS_CACHE_S. Before that, `refresh=True` reads it
again (at most once per RETOUCH_SECRETS_REFRESH_MIN_S): the database does so once when MySQL
refuses the password (`core.db`), the token check once for a kid it does not know
(`core.security`), so a rotation made in the store is seen at once where it matters.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from pydantic import SecretStr

from retouch.core.secrets.cache import SecretUnavailable, get_secret, refresh_secret
from retouch.core.settings import Settings
from retouch.core.settings.service import check_jwt_keys


def database_password(settings: Settings, *, refresh: bool = False) -> str:
    """The MySQL password: RETOUCH_DB_PASSWORD, or the secret RETOUCH_DB_PASSWORD_SECRET names."""
    reference = settings.db_password_secret
    if not reference:
        return settings.db_password.get_secret_value()
    return refresh_secret(reference) if refresh else get_secret(reference)


class SigningKeys(NamedTuple):
    """The JWT keys (kid → key) and the kid that signs new tokens (a NamedTuple: a dataclass
    costs ~0.4 ms of every cold start)."""

    keys: Mapping[str, SecretStr]
    active_kid: str

    def active_key(self) -> bytes:
        return self.keys[self.active_kid].get_secret_value().encode()


def signing_keys(settings: Settings, *, refresh: bool = False) -> SigningKeys:
    """RETOUCH_JWT_KEYS, or the keys RETOUCH_JWT_KEYS_SECRET names: the same JSON object of
    kid → key (the active kid from RETOUCH_JWT_ACTIVE_KID, or the only key), or
    `{"keys": {...}, "active_kid": "..."}`, so a rotation needs no deploy."""
    reference = settings.jwt_keys_secret
    if not reference:
        return SigningKeys(settings.jwt_keys, settings.jwt_active_kid)
    raw = refresh_secret(reference) if refresh else get_secret(reference)
    return _parse_signing_keys(reference, raw, settings.jwt_active_kid)


@lru_cache(maxsize=4)
def _parse_signing_keys(reference: str, raw: str, configured_kid: str) -> SigningKeys:
    # Parsed once per value (every authenticated request asks). The reasons name the shape
    # that is wrong, never a key.
    try:
        document: Any = json.loads(raw)
    except ValueError:
        raise SecretUnavailable(reference, "the JWT keys are not JSON") from None
    wrapped = isinstance(document, dict) and isinstance(document.get("keys"), dict)
    keys = document["keys"] if wrapped else document
    active = str(document.get("active_kid") or "") if wrapped else ""
    if (
        not isinstance(keys, dict)
        or not keys
        or not all(isinstance(key, str) for key in keys.values())
    ):
        raise SecretUnavailable(reference, "the JWT keys are not an object of strings")
    secrets = {str(kid): SecretStr(key) for kid, key in keys.items()}
    try:
        check_jwt_keys(secrets)
    except ValueError as exc:
        raise SecretUnavailable(reference, str(exc)) from None
    active = active or configured_kid or (next(iter(secrets)) if len(secrets) == 1 else "")
    if active not in secrets:
        raise SecretUnavailable(reference, f"the active kid {active!r} is not among the keys")
    return SigningKeys(secrets, active)
