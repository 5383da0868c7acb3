"""Settings of the work behind a task: tasks and idempotency, the pipeline and its
providers, the transactional outbox and the queue."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from retouch.core.settings.base import SettingsGroup


class PipelineSettings(SettingsGroup):
    """Tasks, pipeline, providers, outbox and queue (`queue_backend` comes before
    `queue_tdmq_region`, whose validator reads it)."""

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

    # Queue (retouch.queue): Redis Streams locally, SQS on AWS, SCF asynchronous invocation on
    # Tencent (docs/queue-tencent.md); see docs/architecture.md "Queue".
    queue_backend: Literal["redis", "sqs", "scf", "cmq"] = Field(
        "redis",
        description="queue adapter: redis (Redis Streams), sqs (AWS), scf (Tencent: each "
        "message invokes its step function asynchronously), cmq (TDMQ CMQ, publish only; no "
        "SCF trigger consumes it today)",
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

    queue_scf_region: str = Field(
        "",
        pattern=r"^([a-z]+(-[a-z0-9]+)+)?$",
        validate_default=True,
        description="Tencent Cloud region of the step functions the scf backend invokes, e.g. "
        "ap-guangzhou (required with the scf backend)",
    )
    queue_scf_namespace: str = Field(
        "default",
        pattern=r"^[A-Za-z0-9_-]{1,60}$",
        description="SCF namespace of the step functions (queue `steps-prepare` invokes "
        "function `<RETOUCH_QUEUE_NAME_PREFIX>steps-prepare` there)",
    )
    queue_scf_qualifier: str = Field(
        "$LATEST",
        pattern=r"^(\$LATEST|[A-Za-z0-9_-]{1,64})$",
        description="version or alias of the step functions the scf backend invokes",
    )
    queue_scf_endpoint: str | None = Field(
        None,
        pattern=r"^https?://[^/]+$",
        description="SCF API endpoint instead of scf.tencentcloudapi.com, as "
        "scheme://host[:port] (tests: a local fake)",
    )

    @field_validator("queue_tdmq_region", "queue_scf_region")
    @classmethod
    def _check_cloud_region(cls, region: str, info: ValidationInfo) -> str:
        backend = "cmq" if info.field_name == "queue_tdmq_region" else "scf"
        if not region and info.data.get("queue_backend") == backend:
            raise PydanticCustomError("missing", f"required with RETOUCH_QUEUE_BACKEND={backend}")
        return region

    callback_base_url: str | None = Field(
        None,
        pattern=r"^https?://[^?#]+[^/?#]$",
        description="public base URL of the API (no trailing slash): providers that call back "
        "are given <base>/v1/callbacks/<provider>/<job token>; unset: jobs are only polled",
    )
    callback_prompt_interval_s: float = Field(
        10.0,
        ge=1,
        le=600,
        description="a job's callbacks send its step at most one poll per this many seconds",
    )
    provider_events_retention_s: int = Field(
        7 * 86_400, ge=3600, description="callback events are remembered this long (replays)"
    )

    # Secrets read at run time (retouch.core.secrets): provider credentials (`credential_ref`
    # of a provider_configs row) and RETOUCH_DB_PASSWORD_SECRET / RETOUCH_JWT_KEYS_SECRET.
    secrets_cache_s: float = Field(
        300.0,
        ge=0,
        le=3600,
        description="seconds a secret read from a secret store (provider credentials, the MySQL "
        "password, the JWT keys) is reused before it is read again (a rotated secret is picked "
        "up within this time)",
    )
    secrets_endpoint_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Secrets Manager and SSM endpoint instead of the region's (tests: a local "
        "moto server)",
    )
    secrets_refresh_min_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="a refused MySQL password or an unknown JWT kid re-reads its secret early, "
        "at most once per this many seconds",
    )
    secrets_tencent_region: str = Field(
        "",
        pattern=r"^([a-z]+(-[a-z0-9]+)+)?$",
        validate_default=True,
        description="Tencent Cloud region of the SSM secrets (tcssm: references), e.g. "
        "ap-guangzhou",
    )
    secrets_tencent_endpoint: str | None = Field(
        None,
        pattern=r"^https?://[^/]+$",
        description="Tencent SSM API endpoint instead of ssm.tencentcloudapi.com, as "
        "scheme://host[:port] (tests: a local fake)",
    )

    @field_validator("secrets_tencent_region")
    @classmethod
    def _check_secrets_region(cls, region: str, info: ValidationInfo) -> str:
        references = (info.data.get("db_password_secret"), info.data.get("jwt_keys_secret"))
        if not region and any(str(ref or "").startswith("tcssm:") for ref in references):
            raise PydanticCustomError("missing", "required by a tcssm: secret reference")
        return region

    # Where providers may reach (retouch.providers.destinations): the code lists each vendor
    # kind's hosts; the deploy may add some, never remove the checks.
    provider_extra_hosts: str = Field(
        "",
        pattern=r"^(\.?[a-z0-9-]+(\.[a-z0-9-]+)+)?(,\.?[a-z0-9-]+(\.[a-z0-9-]+)+)*$",
        description="comma-separated host names (or .domain for any host under it) that "
        "provider endpoints and result URLs may also use, e.g. a RunningHub account's "
        "result CDN",
    )
    providers_allow_local_network: bool = Field(
        False,
        description="true (local stack, tests): provider endpoints and result hosts may be "
        "plain http and loopback, and the simulator kind may be configured",
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
