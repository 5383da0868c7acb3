"""`/v1/admin/metrics`: the rollups read for a dashboard. Every answer reads a bounded range
of the `rollups` table by its primary key (at most 168 hourly or 7 daily periods), never the
tasks themselves.

Windows are whole periods up to now: `1h` the current hour, `24h` the current hour and the 23
before it, `7d` the current UTC day and the 6 before it (daily rows).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from retouch.admin.schemas import (
    ActiveUsers,
    Credits,
    FeatureOutcomes,
    MetricSeries,
    MetricsOverview,
    Outcomes,
    ProviderOutcomes,
    SeriesPoint,
    Uploads,
    Window,
)
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transactions
from retouch.rollups import RollupRepository
from retouch.rollups.periods import Grain, period_of, periods_between
from retouch.rollups.sources import ALL

_WINDOWS: dict[Window, tuple[Grain, int]] = {
    "1h": ("hour", 1),
    "24h": ("hour", 24),
    "7d": ("day", 7),
}
_OUTCOME_METRICS = (
    "tasks_succeeded",
    "tasks_failed",
    "tasks_canceled",
    "task_fallbacks",
    "task_duration_ms_sum",
)
_TOTAL_METRICS = (
    "tasks_created",
    "credits_charged",
    "credits_refunded",
    "credits_granted",
    "credits_period_granted",
    "uploads",
    "uploads_rejected",
    "upload_bytes",
)

Figures = dict[str, int]


def window_range(window: Window, now: datetime) -> tuple[Grain, datetime, datetime]:
    """The grain and [since, until) of a window ending with the current period."""
    grain, periods = _WINDOWS[window]
    current = period_of(grain, now)
    return grain, current.end - (current.end - current.start) * periods, current.end


def overview(*, database: Transactions, window: Window, clock: Clock = utc_now) -> MetricsOverview:
    """The window's totals, per feature and per provider, and the active users now."""
    now = clock()
    grain, since, until = window_range(window, now)
    with database.read_only() as uow:
        rollups = uow.repository(RollupRepository)
        values = rollups.breakdown(
            grain=grain, metrics=(*_OUTCOME_METRICS, *_TOTAL_METRICS), since=since, until=until
        )
        active = {
            active_grain: _current(rollups, active_grain, now)
            for active_grain in ("hour", "day", "week")
        }
    by_dimensions: dict[tuple[str, str], Figures] = defaultdict(lambda: defaultdict(int))
    for value in values:
        by_dimensions[(value.feature_key, value.provider_key)][value.metric] = value.value
    total = by_dimensions[(ALL, ALL)]
    return MetricsOverview(
        window=window,
        since=since,
        until=until,
        tasks_created=total["tasks_created"],
        tasks=_outcomes(total),
        by_feature=[
            FeatureOutcomes(feature=feature, **_outcomes(figures).model_dump())
            for (feature, provider), figures in sorted(by_dimensions.items())
            if feature != ALL and provider == ALL and _ended(figures)
        ],
        by_provider=[
            ProviderOutcomes(provider=provider, **_outcomes(figures).model_dump())
            for (feature, provider), figures in sorted(by_dimensions.items())
            if feature == ALL and provider != ALL and _ended(figures)
        ],
        credits=Credits(
            charged=total["credits_charged"],
            refunded=total["credits_refunded"],
            granted=total["credits_granted"],
            period_granted=total["credits_period_granted"],
        ),
        active_users=ActiveUsers(**active),
        uploads=Uploads(
            created=total["uploads"],
            rejected=total["uploads_rejected"],
            bytes=total["upload_bytes"],
        ),
    )


def series(
    *,
    database: Transactions,
    metric: str,
    window: Window,
    feature: str | None,
    provider: str | None,
    clock: Clock = utc_now,
) -> MetricSeries:
    """One metric per period of the window, oldest first; a period without a row is 0."""
    grain, since, until = window_range(window, clock())
    with database.read_only() as uow:
        points = uow.repository(RollupRepository).series(
            grain=grain,
            metric=metric,
            since=since,
            until=until,
            feature_key=feature or ALL,
            provider_key=provider or ALL,
        )
    found = {point.period_start: point.value for point in points}
    return MetricSeries(
        metric=metric,  # type: ignore[arg-type]  # checked by the query model
        window=window,
        grain="day" if grain == "day" else "hour",
        feature=feature,
        provider=provider,
        points=[
            SeriesPoint(t=period.start, value=found.get(period.start, 0))
            for period in periods_between(grain, since, until)
        ],
    )


def _current(rollups: RollupRepository, grain: Grain, now: datetime) -> int:
    period = period_of(grain, now)
    points = rollups.series(
        grain=grain, metric="active_users", since=period.start, until=period.end
    )
    return points[0].value if points else 0


def _ended(figures: Figures) -> int:
    return figures["tasks_succeeded"] + figures["tasks_failed"] + figures["tasks_canceled"]


def _outcomes(figures: Figures) -> Outcomes:
    ended, succeeded = _ended(figures), figures["tasks_succeeded"]
    return Outcomes(
        succeeded=succeeded,
        failed=figures["tasks_failed"],
        canceled=figures["tasks_canceled"],
        success_rate=round(succeeded / ended, 4) if ended else None,
        fallbacks=figures["task_fallbacks"],
        duration_ms_avg=round(figures["task_duration_ms_sum"] / succeeded) if succeeded else None,
    )
