"""The admin routes' DTOs: small JSON shaped for a dashboard (totals, tables, time series)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from retouch.core.schemas import RequestSchema, Schema, StrictRequestSchema
from retouch.queue.steps import STEP_KINDS
from retouch.tasks.records import TaskStatus

Window = Literal["1h", "24h", "7d"]
#: The step queues, whose dead letters operators see and redrive.
StepQueue = Literal["steps-prepare", "steps-generate", "steps-store", "steps-finalize"]
STEP_QUEUES: tuple[str, ...] = tuple(f"steps-{kind}" for kind in STEP_KINDS)
#: The cache namespaces an operator may invalidate, and what each holds.
CACHE_NAMESPACES: dict[str, str] = {
    "catalog": "features, forms and pipelines as the public catalog routes serve them",
}
CacheNamespace = Literal["catalog"]
Metric = Literal[
    "tasks_created",
    "tasks_succeeded",
    "tasks_failed",
    "tasks_canceled",
    "task_fallbacks",
    "task_duration_ms_sum",
    "task_duration_ms_p95",
    "credits_charged",
    "credits_refunded",
    "credits_granted",
    "credits_period_granted",
    "active_users",
    "uploads",
    "uploads_rejected",
    "upload_bytes",
]
DimensionKey = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,32}$")]


class OverviewQuery(RequestSchema):
    """`GET /v1/admin/metrics/overview`: unknown parameters are a 422."""

    window: Window = "24h"


class SeriesQuery(RequestSchema):
    """`GET /v1/admin/metrics/series`: one metric over a window, all features and providers
    unless `feature` or `provider` names one."""

    metric: Metric
    window: Window = "24h"
    feature: DimensionKey | None = None
    provider: DimensionKey | None = None


class Outcomes(Schema):
    """Tasks ended in the window, and how."""

    succeeded: int
    failed: int
    canceled: int
    success_rate: float | None = Field(description="succeeded / ended; None when none ended")
    fallbacks: int
    duration_ms_avg: int | None = Field(description="creation to success, mean")


class FeatureOutcomes(Outcomes):
    feature: str


class ProviderOutcomes(Outcomes):
    provider: str = Field(description="the provider's key; '' when none took the task")


class Credits(Schema):
    charged: int
    refunded: int
    granted: int
    period_granted: int


class ActiveUsers(Schema):
    """Distinct users who created a task in the current hour, UTC day and week."""

    hour: int
    day: int
    week: int


class Uploads(Schema):
    created: int
    rejected: int
    bytes: int


class MetricsOverview(Schema):
    window: Window
    since: datetime
    until: datetime
    tasks_created: int
    tasks: Outcomes
    by_feature: list[FeatureOutcomes]
    by_provider: list[ProviderOutcomes]
    credits: Credits
    active_users: ActiveUsers
    uploads: Uploads


class SeriesPoint(Schema):
    t: datetime
    value: int


class MetricSeries(Schema):
    metric: Metric
    window: Window
    grain: Literal["hour", "day"]
    feature: str | None
    provider: str | None
    points: list[SeriesPoint]


class AdminTaskQuery(RequestSchema):
    """`GET /v1/admin/tasks`: newest first; unknown parameters are a 422."""

    user_id: Annotated[str | None, Field(pattern=r"^usr_[A-Za-z0-9_-]{10,40}$")] = None
    status: TaskStatus | None = None
    feature: DimensionKey | None = None
    cursor: Annotated[str | None, Field(max_length=512)] = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20


class AdminTaskItem(Schema):
    id: str
    user_id: str
    feature: str
    status: TaskStatus
    cost: int
    error_code: str | None
    created_at: datetime
    finished_at: datetime | None


class AdminTaskPage(Schema):
    items: list[AdminTaskItem]
    next_cursor: str | None


class StepAttempts(Schema):
    """One step of a task: where it stands, and its provider attempts (the fallbacks, then
    the provider it ended on)."""

    index: int
    step: str
    status: str
    provider: str | None
    provider_index: int
    attempt: int
    polls: int
    fallbacks: list[dict[str, Any]]
    error_code: str | None
    error_detail: str | None
    started_at: datetime
    finished_at: datetime | None


class AdminTaskRead(AdminTaskItem):
    """Any user's task as operators see it: the internal error detail and every step."""

    form_version: int
    pipeline_version: int
    inputs: dict[str, Any]
    error_detail: str | None
    hidden: bool
    started_at: datetime | None
    deadline_at: datetime | None
    steps: list[StepAttempts]


class DeadLetter(Schema):
    id: str
    body: dict[str, Any]
    delivery_count: int
    sent_at: datetime
    dead_at: datetime


class DeadLetterQueue(Schema):
    queue: str
    count: int = Field(description="dead letters counted, at most `count_limit`")
    count_is_lower_bound: bool = Field(description="there are more than `count`")
    oldest_dead_at: datetime | None
    samples: list[DeadLetter]


class DeadLetters(Schema):
    queues: list[DeadLetterQueue]


class Redrive(StrictRequestSchema):
    """`POST /v1/admin/dead-letters/{queue}/redrive`: the named messages, or every one."""

    message_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=128)]] | None,
        Field(min_length=1, max_length=100),
    ] = None


class RedriveRead(Schema):
    queue: str
    moved: int


class CacheInvalidate(StrictRequestSchema):
    """`POST /v1/admin/cache/invalidate`."""

    namespace: CacheNamespace


class CacheInvalidateRead(Schema):
    namespace: str
    invalidated: bool


class RouteMetrics(Schema):
    """One route's requests over a window (`route`: "METHOD /template", or "unmatched")."""

    route: str
    requests: int
    requests_per_s: float
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    errors_4xx: int
    errors_5xx: int
    error_rate: float = Field(description="4xx and 5xx answers / requests")


class RoutesMetrics(Schema):
    window: Window
    since: datetime
    until: datetime
    routes: list[RouteMetrics]
