"""The service's own settings: stage, MySQL, Redis, request limits, browser origins (CORS),
identity tokens, rate limits and the cache."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from retouch.core.settings.base import SettingsGroup

_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ORIGIN = re.compile(r"https?://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?")
#: A reference to one of our own secrets in a cloud secret store (`retouch.core.secrets`):
#: Tencent SSM (names are letters, digits, `-` and `_`; an optional version, else
#: SSM_Current), AWS Secrets Manager (a name or an ARN) or an SSM SecureString parameter.
STORE_REFERENCE = (
    r"^(tcssm:[A-Za-z0-9][A-Za-z0-9_-]{0,127}(@[A-Za-z0-9][A-Za-z0-9._-]{0,63})?"
    r"|secretsmanager:[A-Za-z0-9/_+=.@:-]{1,2048}|ssm:/[A-Za-z0-9/_.-]{1,2047}"
    r"|env:RETOUCH_SECRET_[A-Z0-9_]{1,64})?$"
)


def check_jwt_keys(keys: Mapping[str, SecretStr]) -> None:
    """ValueError unless every key id is 1-64 of [A-Za-z0-9._-] and every key has 32+ bytes
    (RETOUCH_JWT_KEYS, and the same object read from RETOUCH_JWT_KEYS_SECRET)."""
    for kid, secret in keys.items():
        if not _KEY_ID.fullmatch(kid):
            raise ValueError(f"key id {kid!r} must be 1-64 of [A-Za-z0-9._-]")
        if len(secret.get_secret_value().encode()) < 32:
            raise ValueError(f"the key {kid!r} is shorter than 32 bytes")


class ServiceSettings(SettingsGroup):
    """Stage, database, Redis, identity, rate limits and cache (`stage` comes before the JWT
    keys, whose validator reads it)."""

    stage: Literal["local", "test", "dev", "staging", "prod"] = Field(
        "local", description="deployment stage"
    )

    db_host: str = Field(min_length=1, description="MySQL host")
    db_port: int = Field(3306, ge=1, le=65535, description="MySQL port")
    db_user: str = Field(min_length=1, description="MySQL user")
    db_password_secret: str = Field(
        "",
        pattern=STORE_REFERENCE,
        description="where the MySQL password is read at first connect, cached "
        "(tcssm:<name>[@<version>], secretsmanager:<name or ARN>, ssm:/<path>); instead of "
        "RETOUCH_DB_PASSWORD",
    )
    db_password: SecretStr = Field(
        SecretStr(""), validate_default=True, description="MySQL password (secret)"
    )

    @field_validator("db_password")
    @classmethod
    def _check_db_password(cls, password: SecretStr, info: ValidationInfo) -> SecretStr:
        if password.get_secret_value() and info.data.get("db_password_secret"):
            raise ValueError("set either this or RETOUCH_DB_PASSWORD_SECRET, not both")
        return password

    db_name: str = Field(min_length=1, description="MySQL database")
    db_tls: bool = Field(False, description="use TLS to MySQL, verified against the system CAs")
    db_tls_ca_file: str | None = Field(
        None, description="CA bundle for MySQL TLS instead of the system CAs (e.g. the RDS bundle)"
    )
    db_connect_timeout_s: float = Field(2.0, gt=0, le=30, description="MySQL connect timeout")
    db_read_timeout_s: float = Field(
        30.0,
        gt=0,
        le=900,
        description="MySQL read/write timeout of jobs, steps and triggers (requests and health "
        "checks use RETOUCH_DB_REQUEST_TIMEOUT_S and RETOUCH_DB_HEALTH_TIMEOUT_S)",
    )
    db_retry_after_failure_s: float = Field(
        0.5, ge=0, le=30, description="after a failed connect, fail fast for this long"
    )

    redis_url: str = Field(pattern=r"^rediss?://", description="Redis URL")
    redis_timeout_s: float = Field(0.5, gt=0, le=30, description="Redis connect/read timeout")

    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="largest request body accepted on JSON routes"
    )

    cors_origins: list[str] = Field(
        default_factory=list,
        description="browser origins allowed by CORS (comma-separated or a JSON list of "
        "scheme://host[:port]); empty sends no CORS headers at all",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _parse_cors_origins(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _check_cors_origins(cls, origins: list[str]) -> list[str]:
        # Exactly what a browser sends in `Origin`: CORS compares the strings, so a trailing
        # slash, a path, upper case or a wildcard would silently match nothing or everything.
        for origin in origins:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is not an origin like https://app.example.com")
        return origins

    default_plan: str = Field(
        "free", pattern=r"^[a-z][a-z0-9_]{1,31}$", description="plan code every new account holds"
    )

    # Identity: access JWTs (HS256, key chosen by `kid`) and refresh tokens.
    jwt_keys_secret: str = Field(
        "",
        pattern=STORE_REFERENCE,
        description="where the JWT keys are read at first use, cached (a reference as for "
        'RETOUCH_DB_PASSWORD_SECRET; the value as RETOUCH_JWT_KEYS, or {"keys": {...}, '
        '"active_kid": ...}); instead of RETOUCH_JWT_KEYS',
    )
    jwt_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        validate_default=True,
        description="JSON object kid -> HS256 secret (32+ bytes each); keep retired kids until "
        "their tokens expire. Required outside the local stage",
    )
    jwt_active_kid: str = Field(
        "", validate_default=True, description="kid that signs new tokens (optional with one key)"
    )
    jwt_issuer: str = Field("retouch", min_length=1, description="access token `iss`")
    jwt_audience: str = Field("retouch-api", min_length=1, description="access token `aud`")
    access_token_ttl_s: int = Field(900, ge=60, le=86_400, description="access token lifetime")
    refresh_token_ttl_s: int = Field(
        2_592_000, ge=3600, le=31_536_000, description="refresh token lifetime (30 days)"
    )
    refresh_reuse_grace_s: int = Field(
        10,
        ge=0,
        le=60,
        description="a just-rotated token presented again by the client its child went to "
        "gets that child back; by another client, it revokes the session",
    )

    @field_validator("jwt_keys", mode="before")
    @classmethod
    def _parse_jwt_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("jwt_keys")
    @classmethod
    def _check_jwt_keys(
        cls, keys: dict[str, SecretStr], info: ValidationInfo
    ) -> dict[str, SecretStr]:
        if info.data.get("jwt_keys_secret"):
            if keys:
                raise ValueError("set either this or RETOUCH_JWT_KEYS_SECRET, not both")
            return keys  # read from the secret store on first use (core.secrets.own)
        if not keys:
            if info.data.get("stage") != "local":
                raise PydanticCustomError("missing", "required outside the local stage")
            # A local process started without the stack's key file: a random key that lives
            # as long as the process, so nothing guessable ever signs a token.
            return {"local-ephemeral": SecretStr(secrets.token_urlsafe(32))}
        check_jwt_keys(keys)
        return keys

    @field_validator("jwt_active_kid")
    @classmethod
    def _check_active_kid(cls, kid: str, info: ValidationInfo) -> str:
        keys = info.data.get("jwt_keys")
        if keys is None:  # RETOUCH_JWT_KEYS itself is invalid and reported
            return kid
        if not keys and info.data.get("jwt_keys_secret"):
            return kid  # checked against the keys when the secret is read
        if not kid and len(keys) == 1:
            only: str = next(iter(keys))
            return only
        if not kid:
            raise PydanticCustomError("missing", "required when there are several keys")
        if kid not in keys:
            raise ValueError(f"{kid!r} is not a key id of RETOUCH_JWT_KEYS")
        return kid

    rate_limit_per_ip_per_min: int = Field(
        100, ge=1, description="requests per minute per client IP, on every route"
    )
    rate_limit_tasks_per_user_per_min: int = Field(
        20, ge=1, description="task creations per minute per user (POST /v1/tasks)"
    )
    rate_limit_login_per_account_ip_per_min: int = Field(
        5, ge=1, description="login attempts per minute per account and client IP"
    )
    rate_limit_login_per_ip_per_min: int = Field(
        20, ge=1, description="login attempts per minute per client IP, any account"
    )
    rate_limit_login_failures_per_account_per_min: int = Field(
        10, ge=1, description="failed logins per minute per account, from any IP, before a lockout"
    )
    login_lockout_base_s: int = Field(
        60, ge=1, le=3600, description="the first lockout of an account; each further doubles"
    )
    login_lockout_max_s: int = Field(
        900, ge=1, le=86_400, description="the longest lockout of an account"
    )
    rate_limit_retry_after_failure_s: float = Field(
        1.0, ge=0, le=30, description="after Redis failed, skip the rate limiter for this long"
    )

    # Cache (retouch.cache): in-process level over Redis, see docs/architecture.md "Cache".
    cache_local_ttl_s: float = Field(
        3.0, gt=0, le=60, description="in-process cache lifetime; bounds how stale a read can be"
    )
    cache_local_max_entries: int = Field(
        1024, ge=1, description="in-process cache size; least recently used entries go first"
    )
    cache_redis_ttl_s: float = Field(300.0, gt=0, le=86_400, description="Redis cache lifetime")
    cache_negative_ttl_s: float = Field(
        60.0, gt=0, le=3600, description="how long an absent key is remembered as absent"
    )
    cache_ttl_jitter: float = Field(
        0.1, ge=0, le=1, description="lifetimes are stretched by a random 0..jitter fraction"
    )
    cache_lock_timeout_s: float = Field(
        5.0, gt=0, le=60, description="a rebuild lock expires after this long (crashed holder)"
    )
    cache_lock_wait_s: float = Field(
        1.0, ge=0, le=30, description="a reader of a cold key waits this long for its rebuild"
    )
    cache_retry_after_failure_s: float = Field(
        1.0, ge=0, le=30, description="after Redis failed, the cache skips Redis for this long"
    )
