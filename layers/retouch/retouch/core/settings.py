"""Every setting the backend reads, parsed once from environment variables.

This is the only module that knows environment variable names. Nothing is read at import
time: `get_settings()` parses and validates on first use and caches the result, so a bad
value fails the first caller with one line naming the variable.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from functools import cache
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

ENV_PREFIX = "RETOUCH_"
#: Variables holding a provider's secret (`credential_ref` `env:RETOUCH_SECRET_...`): read by
#: name when a provider is built (`secret_variable`), never part of Settings.
SECRET_PREFIX = "RETOUCH_SECRET_"  # noqa: S105 - a variable name prefix, not a secret

#: Variables owned by Powertools itself; listed here so the configuration table is complete.
POWERTOOLS_VARIABLES = {
    "POWERTOOLS_SERVICE_NAME": "service name on every log line and metric",
    "POWERTOOLS_LOG_LEVEL": "log level (default INFO)",
    "POWERTOOLS_METRICS_NAMESPACE": "CloudWatch namespace of the EMF metrics",
    "POWERTOOLS_METRICS_DISABLED": "set to true to stop emitting metrics (local use)",
}

#: Keys the Tencent SCF runtime sets from the function's run role (the `cos` storage adapter
#: reads them through `get_tencent_cloud_keys`); listed so the configuration table is complete.
TENCENT_CLOUD_VARIABLES = {
    "TENCENTCLOUD_SECRETID": "SecretId of the SCF run role's temporary keys",
    "TENCENTCLOUD_SECRETKEY": "SecretKey of those keys (secret)",
    "TENCENTCLOUD_SESSIONTOKEN": "session token of those keys (secret)",
}


_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_COS_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{0,49}-[0-9]{5,20}")
_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class SettingsError(RuntimeError):
    """A setting is missing or invalid; the message names the variable."""


class Settings(BaseModel):
    """The typed view of the environment. Field `x` is read from `RETOUCH_X`."""

    # An unknown RETOUCH_* variable is a typo or a stale deploy: refuse it by name.
    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: Literal["local", "test", "dev", "staging", "prod"] = Field(
        "local", description="deployment stage"
    )

    db_host: str = Field(min_length=1, description="MySQL host")
    db_port: int = Field(3306, ge=1, le=65535, description="MySQL port")
    db_user: str = Field(min_length=1, description="MySQL user")
    db_password: SecretStr = Field(SecretStr(""), description="MySQL password (secret)")
    db_name: str = Field(min_length=1, description="MySQL database")
    db_tls: bool = Field(False, description="use TLS to MySQL, verified against the system CAs")
    db_tls_ca_file: str | None = Field(
        None, description="CA bundle for MySQL TLS instead of the system CAs (e.g. the RDS bundle)"
    )
    db_connect_timeout_s: float = Field(2.0, gt=0, le=30, description="MySQL connect timeout")
    db_read_timeout_s: float = Field(5.0, gt=0, le=300, description="MySQL read/write timeout")
    db_retry_after_failure_s: float = Field(
        0.5, ge=0, le=30, description="after a failed connect, fail fast for this long"
    )

    redis_url: str = Field(pattern=r"^rediss?://", description="Redis URL")
    redis_timeout_s: float = Field(0.5, gt=0, le=30, description="Redis connect/read timeout")

    max_body_bytes: int = Field(
        1_048_576, ge=1024, description="largest request body accepted on JSON routes"
    )

    default_plan: str = Field(
        "free", pattern=r"^[a-z][a-z0-9_]{1,31}$", description="plan code every new account holds"
    )

    # Identity: access JWTs (HS256, key chosen by `kid`) and refresh tokens.
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
        10, ge=0, le=60, description="a just-rotated refresh token is refused without revoking"
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
        if not keys:
            if info.data.get("stage") != "local":
                raise PydanticCustomError("missing", "required outside the local stage")
            # A local process started without the stack's key file: a random key that lives
            # as long as the process, so nothing guessable ever signs a token.
            return {"local-ephemeral": SecretStr(secrets.token_urlsafe(32))}
        for kid, secret in keys.items():
            if not _KEY_ID.fullmatch(kid):
                raise ValueError(f"key id {kid!r} must be 1-64 of [A-Za-z0-9._-]")
            if len(secret.get_secret_value().encode()) < 32:
                raise ValueError(f"the key {kid!r} is shorter than 32 bytes")
        return keys

    @field_validator("jwt_active_kid")
    @classmethod
    def _check_active_kid(cls, kid: str, info: ValidationInfo) -> str:
        keys = info.data.get("jwt_keys")
        if keys is None:  # RETOUCH_JWT_KEYS itself is invalid and reported
            return kid
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

    # Storage (retouch.storage), local adapter: see docs/architecture.md "Storage".
    storage_local_root: str = Field(
        ".local/objects", min_length=1, description="folder holding the local adapter's objects"
    )
    storage_local_base_url: str = Field(
        "http://127.0.0.1:8000/_storage",
        pattern=r"^https?://",
        description="URL at which the local gateway serves the local objects",
    )
    storage_local_signing_key: SecretStr = Field(
        SecretStr(""),
        validate_default=True,
        description="HMAC key (32+ bytes) of the local adapter's URLs and credentials",
    )

    @field_validator("storage_local_signing_key")
    @classmethod
    def _check_storage_signing_key(cls, key: SecretStr) -> SecretStr:
        if not key.get_secret_value():
            # Unset: a random key living as long as the process, as for the JWT keys.
            return SecretStr(secrets.token_urlsafe(32))
        if len(key.get_secret_value().encode()) < 32:
            raise ValueError("the key is shorter than 32 bytes")
        return key

    # Storage, cloud adapters (`cos`, `s3`): see docs/architecture.md "Storage".
    storage_backend: Literal["local", "cos", "s3"] = Field(
        "local", description="object storage adapter: local files, Tencent COS or AWS S3"
    )
    storage_bucket: str = Field(
        "",
        validate_default=True,
        description="bucket of the cos or s3 backend (COS: <name>-<appid>)",
    )
    storage_region: str = Field(
        "",
        validate_default=True,
        pattern=r"^([a-z]{2,}(-[a-z0-9]+)+)?$",
        description="region of the bucket (ap-guangzhou, eu-west-1)",
    )
    storage_endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#]+/?$",
        description="object store URL instead of the region's (S3-compatible stores, COS custom "
        "domains, tests)",
    )
    storage_sts_endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://[^/?#]+/?$",
        description="STS URL instead of the region's (tests)",
    )
    storage_upload_role_arn: str = Field(
        "",
        validate_default=True,
        description="role assumed for upload credentials; required for s3, optional for cos",
    )

    @field_validator("storage_bucket")
    @classmethod
    def _check_storage_bucket(cls, bucket: str, info: ValidationInfo) -> str:
        backend = info.data.get("storage_backend")
        if backend in ("cos", "s3") and not bucket:
            raise PydanticCustomError("missing", f"required by the {backend} storage backend")
        if backend == "cos" and not _COS_BUCKET.fullmatch(bucket):
            raise ValueError("a COS bucket is named <name>-<appid>")
        if backend == "s3" and not _S3_BUCKET.fullmatch(bucket):
            raise ValueError("not a valid S3 bucket name")
        return bucket

    @field_validator("storage_region")
    @classmethod
    def _check_storage_region(cls, region: str, info: ValidationInfo) -> str:
        backend = info.data.get("storage_backend")
        if backend in ("cos", "s3") and not region:
            raise PydanticCustomError("missing", f"required by the {backend} storage backend")
        return region

    @field_validator("storage_upload_role_arn")
    @classmethod
    def _check_storage_upload_role(cls, role_arn: str, info: ValidationInfo) -> str:
        if info.data.get("storage_backend") == "s3" and not role_arn:
            raise PydanticCustomError("missing", "required by the s3 storage backend")
        return role_arn

    # Uploads (retouch.uploads): see docs/architecture.md "Uploads".
    upload_max_bytes: int = Field(
        20 * 1024 * 1024, ge=1, le=1024**3, description="largest upload accepted, in bytes"
    )
    upload_max_pixels: int = Field(
        50_000_000, ge=1, description="largest width x height an upload may declare in its header"
    )
    upload_url_expires_s: int = Field(
        900, ge=60, le=43_200, description="lifetime of presigned upload URLs and credentials"
    )

    # Tasks (retouch.tasks): see docs/architecture.md "Tasks".
    task_deadline_s: int = Field(
        900, ge=60, le=86_400, description="a task not finished this long after creation fails"
    )
    task_output_url_expires_s: int = Field(
        300, ge=30, le=3600, description="output image URLs live between this and twice this"
    )
    task_events_max_s: float = Field(
        60.0, gt=0, le=900, description="longest a task's event stream stays open"
    )
    task_events_heartbeat_s: float = Field(
        15.0, gt=0, le=300, description="an idle event stream sends a comment this often"
    )
    idempotency_ttl_s: int = Field(
        86_400, ge=60, le=7 * 86_400, description="how long an Idempotency-Key is remembered"
    )
    idempotency_lease_s: int = Field(
        60, ge=5, le=900, description="an in-flight key whose request died frees after this long"
    )

    # Pipeline (retouch.pipeline): see docs/architecture.md "Pipeline engine".
    pipeline_step_stale_s: int = Field(
        300, ge=30, le=86_400, description="the reaper re-sends a step untouched this long, once"
    )
    simulator_api_key: SecretStr = Field(
        SecretStr(""), description="bearer key the simulator provider sends (secret)"
    )
    simulator_callback_secret: SecretStr = Field(
        SecretStr(""), description="HMAC key of the simulator's callbacks (secret)"
    )

    # Outbox (retouch.queue.outbox): see docs/architecture.md "Transactional outbox".
    outbox_relay_min_age_s: float = Field(
        5.0, ge=0, le=3600, description="the relay leaves younger rows to their own request"
    )
    outbox_relay_batch: int = Field(
        100, ge=1, le=10_000, description="outbox rows the relay publishes per transaction"
    )
    outbox_retention_s: int = Field(
        7 * 86_400, ge=3600, description="published outbox rows are kept this long"
    )

    # Queue (retouch.queue): Redis Streams locally, SQS on AWS, TDMQ publishing on Tencent;
    # see docs/architecture.md "Queue".
    queue_backend: Literal["redis", "sqs", "cmq"] = Field(
        "redis",
        description="queue adapter: redis (Redis Streams), sqs (AWS), cmq (Tencent TDMQ, "
        "publish only: SCF triggers consume)",
    )
    queue_name_prefix: str = Field(
        "",
        pattern=r"^[A-Za-z0-9_-]{0,40}$",
        description="prefix of the platform's queue names: queue `steps` is `<prefix>steps`",
    )
    queue_sqs_endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="SQS endpoint instead of the region's (tests: a local moto server); "
        "the region comes from AWS_REGION as Lambda sets it",
    )
    queue_tdmq_region: str = Field(
        "",
        pattern=r"^([a-z]+(-[a-z0-9]+)+)?$",
        validate_default=True,
        description="Tencent Cloud region of the TDMQ CMQ queues, e.g. ap-guangzhou "
        "(required with the cmq backend)",
    )
    queue_tdmq_endpoint: str | None = Field(
        None,
        pattern=r"^https?://[^/]+$",
        description="TDMQ API endpoint instead of tdmq.tencentcloudapi.com, as "
        "scheme://host[:port] (tests: a local fake)",
    )

    @field_validator("queue_tdmq_region")
    @classmethod
    def _check_tdmq_region(cls, region: str, info: ValidationInfo) -> str:
        if not region and info.data.get("queue_backend") == "cmq":
            raise PydanticCustomError("missing", "required with RETOUCH_QUEUE_BACKEND=cmq")
        return region

    callback_base_url: str | None = Field(
        None,
        pattern=r"^https?://[^?#]+[^/?#]$",
        description="public base URL of the API (no trailing slash): providers that call back "
        "are given <base>/v1/callbacks/<provider>; unset: jobs are only polled",
    )

    # Provider credentials (retouch.providers.credentials): `credential_ref` of a
    # provider_configs row names a secret in one of these places.
    secrets_cache_s: float = Field(
        300.0,
        ge=0,
        le=3600,
        description="seconds a resolved provider credential is reused before it is read again "
        "(a rotated secret is picked up within this time)",
    )
    secrets_endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Secrets Manager and SSM endpoint instead of the region's (tests: a local "
        "moto server)",
    )

    queue_visibility_timeout_s: float = Field(
        30.0,
        gt=0,
        le=43_200,
        description="seconds until an unacknowledged message is delivered again",
    )
    queue_max_deliveries: int = Field(
        5, ge=1, le=1000, description="deliveries before a message moves to the dead-letter stream"
    )
    queue_poll_interval_s: float = Field(
        0.2, gt=0, le=10, description="a waiting receive checks reclaims and delays this often"
    )


#: Temporary credentials of the function's execution role, which SCF puts in the environment
#: of every function (SCF "Environment Variables": built-in variables).
SCF_ROLE_VARIABLES = (
    "TENCENTCLOUD_SECRETID",
    "TENCENTCLOUD_SECRETKEY",
    "TENCENTCLOUD_SESSIONTOKEN",
)


@dataclass(frozen=True, slots=True)
class CloudCredentials:
    """A secret id, key and session token (temporary credentials)."""

    secret_id: str
    secret_key: SecretStr
    token: SecretStr


def scf_role_credentials() -> CloudCredentials | None:
    """The SCF execution role's credentials, or None outside SCF (then the Tencent SDK looks
    for credentials itself: TENCENTCLOUD_SECRET_ID/_KEY, its profile file, a CVM role)."""
    secret_id, secret_key, token = (os.environ.get(name, "") for name in SCF_ROLE_VARIABLES)
    if not (secret_id and secret_key):
        return None
    return CloudCredentials(secret_id, SecretStr(secret_key), SecretStr(token))


def secret_variable(name: str) -> str | None:
    """The value of `name`, a variable holding a provider's secret (`credential_ref`
    `env:RETOUCH_SECRET_...`, filled from a secret store by the deploy); None when unset or
    empty. Never cached, never logged."""
    if not name.startswith(SECRET_PREFIX):
        raise SettingsError(f"invalid secret variable {name}: must start with {SECRET_PREFIX}")
    return os.environ.get(name) or None


def _variable_of(error_location: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + str(error_location[0]).upper() if error_location else ENV_PREFIX


def _environment() -> dict[str, str]:
    """`RETOUCH_*` variables keyed by field name, matched case-insensitively.

    Read here rather than through pydantic-settings, whose import (with python-dotenv and
    argparse) cost about 14 ms of every cold start for what these few lines do.
    """
    prefix, secrets = ENV_PREFIX.lower(), SECRET_PREFIX.lower()
    return {
        name[len(prefix) :].lower(): value
        for name, value in os.environ.items()
        if name.lower().startswith(prefix) and not name.lower().startswith(secrets)
    }


@cache
def get_settings() -> Settings:
    """Parse and validate the environment once; raise SettingsError naming the bad variable."""
    try:
        return Settings.model_validate(_environment())
    except ValidationError as exc:
        first = exc.errors()[0]
        kind = {"missing": "missing", "extra_forbidden": "unknown"}.get(first["type"], "invalid")
        raise SettingsError(
            f"{kind} setting {_variable_of(first['loc'])}: {first['msg']}"
        ) from None


@dataclass(frozen=True, slots=True)
class TencentCloudKeys:
    """The keys the SCF runtime hands the function (its run role's temporary keys); the
    secret parts never appear in a repr or a log line."""

    secret_id: str
    secret_key: SecretStr
    session_token: SecretStr | None


def get_tencent_cloud_keys() -> TencentCloudKeys:
    """The SCF runtime's keys, read when a Tencent Cloud client is built (not cached: the
    clients that use them are). SettingsError names a missing variable."""
    values = {name: os.environ.get(name, "") for name in TENCENT_CLOUD_VARIABLES}
    for name in ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY"):
        if not values[name]:
            raise SettingsError(f"missing setting {name}: required by the cos storage backend")
    token = values["TENCENTCLOUD_SESSIONTOKEN"]
    return TencentCloudKeys(
        secret_id=values["TENCENTCLOUD_SECRETID"],
        secret_key=SecretStr(values["TENCENTCLOUD_SECRETKEY"]),
        session_token=SecretStr(token) if token else None,
    )
