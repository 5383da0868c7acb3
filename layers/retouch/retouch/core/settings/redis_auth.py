"""Redis authentication in the cloud: the AUTH token is read at run time through a secret
reference (`retouch.core.secrets`), so RETOUCH_REDIS_URL stays plain configuration (host, port,
database) without credentials."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, ValidationInfo, field_validator

from retouch.core.settings.base import SettingsGroup
from retouch.core.settings.service import STORE_REFERENCE


class RedisAuthSettings(SettingsGroup):
    """Where the Redis AUTH token is read (after the service's fields: it checks the URL)."""

    redis_auth_secret: str = Field(
        "",
        pattern=STORE_REFERENCE,
        description="where the Redis AUTH token is read by every new connection, cached (a "
        "reference as for RETOUCH_DB_PASSWORD_SECRET); then RETOUCH_REDIS_URL carries no "
        "credentials",
    )

    @field_validator("redis_auth_secret")
    @classmethod
    def _check_one_source_of_credentials(cls, reference: str, info: ValidationInfo) -> str:
        url = info.data.get("redis_url") or ""
        if reference and (urlsplit(url).password or urlsplit(url).username):
            raise ValueError("RETOUCH_REDIS_URL carries credentials: drop them or this, not both")
        return reference
