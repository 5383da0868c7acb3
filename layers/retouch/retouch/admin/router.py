"""`/v1/admin/metrics`, `/v1/admin/alerts` (and its rules), `/v1/admin/tasks`,
`/v1/admin/queues`, `/v1/admin/dead-letters`, `/v1/admin/cache`: the operators' routes
behind the console (AdminFunction)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Query

from retouch.admin import (
    alert_rules,
    alert_test,
    metrics,
    operations,
    queues,
    routes_metrics,
    tasks,
)
from retouch.admin.alerts import AlertList, AlertsQuery, recent_alerts
from retouch.admin.schemas import (
    AdminTaskPage,
    AdminTaskQuery,
    AdminTaskRead,
    CacheInvalidate,
    CacheInvalidateRead,
    DeadLetters,
    MetricSeries,
    MetricsOverview,
    OverviewQuery,
    Redrive,
    RedriveRead,
    RoutesMetrics,
    SeriesQuery,
    StepQueue,
)
from retouch.cache import get_cache
from retouch.caller.dependencies import require_permission
from retouch.core.db import get_database
from retouch.core.errors import raises
from retouch.core.identity import Principal
from retouch.core.permissions import Permission
from retouch.core.settings import get_settings
from retouch.http.dependencies import IdempotencyKeyHeader
from retouch.http.routing import api_router
from retouch.idempotency.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from retouch.queue.factory import get_queue
from retouch.users.errors import UserNotFound

router = api_router(prefix="/v1/admin", tags=["admin"])

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "UNAUTHENTICATED or TOKEN_EXPIRED (problem+json)"},
    403: {"description": "FORBIDDEN: the role does not allow this (problem+json)"},
    422: {"description": "VALIDATION_FAILED: an unknown or bad parameter (problem+json)"},
}
_DEAD: dict[int | str, dict[str, Any]] = {
    **_AUTH,
    409: {
        "description": "DEAD_LETTERS_UNAVAILABLE on this queue backend, or "
        "IDEMPOTENCY_KEY_IN_USE (problem+json)"
    },
}


def _caller(permission: Permission) -> Any:
    return Depends(require_permission(permission))


@router.get("/metrics/overview", response_model=MetricsOverview, responses=_AUTH)
def metrics_overview(
    _caller: Annotated[Principal, _caller(Permission.METRICS_READ)],
    query: Annotated[OverviewQuery, Query()],
) -> MetricsOverview:
    """Tasks, outcomes per feature and provider, credits, uploads over the window, and the
    active users of the current hour, day and week (from the rollups)."""
    return metrics.overview(database=get_database(), window=query.window)


@router.get("/metrics/series", response_model=MetricSeries, responses=_AUTH)
def metrics_series(
    _caller: Annotated[Principal, _caller(Permission.METRICS_READ)],
    query: Annotated[SeriesQuery, Query()],
) -> MetricSeries:
    """One rollup metric per hour (1h, 24h) or day (7d), oldest first; missing periods are 0."""
    return metrics.series(
        database=get_database(),
        metric=query.metric,
        window=query.window,
        feature=query.feature,
        provider=query.provider,
    )


@router.get(
    "/metrics/routes",
    response_model=RoutesMetrics,
    responses={
        **_AUTH,
        409: {"description": "ROUTE_METRICS_UNAVAILABLE: not the local sink (problem+json)"},
    },
)
@raises(routes_metrics.RouteMetricsUnavailable)
def metrics_routes(
    _caller: Annotated[Principal, _caller(Permission.METRICS_READ)],
    query: Annotated[OverviewQuery, Query()],
) -> RoutesMetrics:
    """Per route over the window: requests, requests/s, p50/p95 latency and error rate, busiest
    first (the local stack's metrics file)."""
    return routes_metrics.route_metrics(settings=get_settings(), window=query.window)


@router.get("/tasks", response_model=AdminTaskPage, responses=_AUTH)
@raises(UserNotFound)
def list_tasks(
    _caller: Annotated[Principal, _caller(Permission.USERS_READ)],
    query: Annotated[AdminTaskQuery, Query()],
) -> AdminTaskPage:
    """Tasks newest first, of one user, status or feature; pass `next_cursor` as `cursor`."""
    return tasks.list_tasks(database=get_database(), settings=get_settings(), query=query)


@router.get(
    "/tasks/{task_id}",
    response_model=AdminTaskRead,
    responses={**_AUTH, 404: {"description": "NOT_FOUND: no such task"}},
)
def get_task(
    task_id: Annotated[str, Path(max_length=64)],
    _caller: Annotated[Principal, _caller(Permission.USERS_READ)],
) -> AdminTaskRead:
    """Any user's task with its internal error detail, steps and provider attempts."""
    return tasks.get_task(database=get_database(), public_id=task_id)


@router.get("/dead-letters", response_model=DeadLetters, responses=_DEAD)
@raises(operations.DeadLettersUnavailable)
def dead_letters(
    _caller: Annotated[Principal, _caller(Permission.METRICS_READ)],
) -> DeadLetters:
    """Per step queue: dead letters counted (up to 100), the oldest, and a few samples."""
    return operations.list_dead_letters(queue=get_queue())


@router.get("/queues", response_model=queues.QueueDepths, responses=_DEAD)
@raises(operations.DeadLettersUnavailable)
def queue_depths(
    _caller: Annotated[Principal, _caller(Permission.METRICS_READ)],
) -> queues.QueueDepths:
    """Per step queue: messages waiting, dead letters and the oldest waiting one's age, read
    without receiving any message."""
    return queues.queue_depths(queue=get_queue())


@router.post("/dead-letters/{queue}/redrive", response_model=RedriveRead, responses=_DEAD)
@raises(operations.DeadLettersUnavailable, IdempotencyKeyInUse, IdempotencyKeyReused)
def redrive(
    queue: StepQueue,
    body: Redrive,
    caller: Annotated[Principal, _caller(Permission.QUEUES_REDRIVE)],
    idempotency_key: IdempotencyKeyHeader = None,
) -> RedriveRead:
    """Move the named dead letters (or all) back to their queue (audited). Send an
    `Idempotency-Key` to retry safely."""
    return operations.redrive(
        database=get_database(),
        settings=get_settings(),
        queue=get_queue(),
        actor=caller,
        queue_name=queue,
        request=body,
        idempotency_key=idempotency_key,
    )


@router.post("/cache/invalidate", response_model=CacheInvalidateRead, responses=_AUTH)
def invalidate_cache(
    body: CacheInvalidate,
    caller: Annotated[Principal, _caller(Permission.CACHE_INVALIDATE)],
) -> CacheInvalidateRead:
    """Retire every cached value of a namespace on every instance (audited)."""
    return operations.invalidate_cache(
        database=get_database(), cache=get_cache(), actor=caller, namespace=body.namespace
    )


@router.get("/alerts", response_model=AlertList, responses=_AUTH)
def alerts(
    _caller: Annotated[Principal, _caller(Permission.METRICS_READ)],
    query: Annotated[AlertsQuery, Query()],
) -> AlertList:
    """The monitor's alert states, firing first, then the latest change first."""
    return recent_alerts(database=get_database(), query=query)


@router.get("/alerts/rules", response_model=alert_rules.AlertRulesRead, responses=_AUTH)
def get_alert_rules(
    _caller: Annotated[Principal, _caller(Permission.METRICS_READ)],
) -> alert_rules.AlertRulesRead:
    """The alert rules in force and their version."""
    return alert_rules.read_rules(database=get_database())


@router.put(
    "/alerts/rules",
    response_model=alert_rules.AlertRulesRead,
    responses={
        **_AUTH,
        409: {"description": "ALERT_RULES_STALE: edited by someone else since (problem+json)"},
    },
)
@raises(alert_rules.AlertRulesStale)
def put_alert_rules(
    body: alert_rules.AlertRulesEdit,
    caller: Annotated[Principal, _caller(Permission.ALERTS_WRITE)],
) -> alert_rules.AlertRulesRead:
    """Replace the whole rule set (admins only, audited): it becomes the version after
    `version`, or 409 `ALERT_RULES_STALE` when that is no longer the version in force."""
    return alert_rules.edit_rules(database=get_database(), actor=caller, edit=body)


@router.post(
    "/alerts/test",
    response_model=alert_test.AlertTestRead,
    responses={
        **_AUTH,
        409: {"description": "ALERT_CHANNEL_UNCONFIGURED on this deployment (problem+json)"},
        502: {"description": "ALERT_NOT_DELIVERED: the channel refused it (problem+json)"},
    },
)
@raises(alert_test.AlertChannelUnconfigured, alert_test.AlertNotDelivered)
def test_alert(
    body: alert_test.AlertTest,
    caller: Annotated[Principal, _caller(Permission.ALERTS_WRITE)],
) -> alert_test.AlertTestRead:
    """Send a test message through one channel (admins only, audited)."""
    return alert_test.send_test(
        database=get_database(), settings=get_settings(), actor=caller, channel=body.channel
    )
