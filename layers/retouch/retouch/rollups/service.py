"""The rollup job's use cases: recompute whole periods, idempotently.

An hour is aggregated from the source tables (`sources`); a day and a week are the sums of
their hours (every metric but the 95th percentile, which does not add up), plus their own
count of distinct active users. Each period is replaced in one transaction: re-running a
period gives the same rows, and a task that ended late is counted once its hour is
recomputed (the window: `periods.periods_to_recompute`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime

from retouch.core.logging import logger
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transaction, Transactions
from retouch.rollups.periods import Period, periods_between, periods_to_recompute
from retouch.rollups.repository import RollupRepository
from retouch.rollups.sources import ALL, RollupSource, Value, task_values

#: Every metric the rollups keep, and what it counts.
METRICS: dict[str, str] = {
    "tasks_created": "tasks created (by creation time)",
    "tasks_succeeded": "tasks that succeeded (by ending time)",
    "tasks_failed": "tasks that failed (by ending time)",
    "tasks_canceled": "tasks canceled (by ending time)",
    "task_fallbacks": "providers skipped or failed over to the next in the ended tasks",
    "task_duration_ms_sum": "creation to success, summed over the succeeded tasks (ms)",
    "task_duration_ms_p95": "creation to success, 95th percentile (ms; hours only)",
    "credits_charged": "credits spent by succeeded tasks",
    "credits_refunded": "credits returned by tasks that did not succeed",
    "credits_granted": "credits granted by admins",
    "credits_period_granted": "credits of the plans' period top-ups",
    "active_users": "distinct users who created a task",
    "uploads": "uploads presigned",
    "uploads_rejected": "uploads the inspection rejected",
    "upload_bytes": "bytes of the uploads the inspection read",
}
#: Metrics a day or a week cannot add up from its hours.
NOT_ADDITIVE = frozenset({"task_duration_ms_p95", "active_users"})
_CREDIT_METRICS = {
    "charge": "credits_charged",
    "refund": "credits_refunded",
    "grant": "credits_granted",
    "period_grant": "credits_period_granted",
}


def recompute_recent(*, database: Transactions, clock: Clock = utc_now) -> dict[str, int]:
    """The job: recompute the current and previous hour, day and week."""
    return recompute(database=database, periods=periods_to_recompute(clock()), clock=clock)


def backfill(
    *, database: Transactions, since: datetime, until: datetime, clock: Clock = utc_now
) -> dict[str, int]:
    """Recompute every hour, day and week overlapping [since, until) (after an outage)."""
    periods = [
        period
        for grain in ("hour", "day", "week")
        for period in periods_between(grain, since, until)
    ]
    return recompute(database=database, periods=periods, clock=clock)


def recompute(
    *, database: Transactions, periods: Iterable[Period], clock: Clock = utc_now
) -> dict[str, int]:
    """Replace the rows of each period (hours before the days and weeks summed from them);
    returns how many periods and rows were written."""
    ordered = sorted(periods, key=lambda period: (period.grain != "hour", period.start))
    started, rows = time.monotonic(), 0
    for period in ordered:
        with database.unit_of_work() as uow:
            values = (
                _hour_values(uow.repository(RollupSource), period)
                if period.grain == "hour"
                else _summed_values(uow, period)
            )
            uow.repository(RollupRepository).replace(period, values, now=clock())
            uow.commit()
        rows += len(values)
    elapsed_ms = round((time.monotonic() - started) * 1000)
    logger.info(
        "rollups recomputed", extra={"periods": len(ordered), "rows": rows, "ms": elapsed_ms}
    )
    return {"periods": len(ordered), "rows": rows}


def _hour_values(source: RollupSource, period: Period) -> list[Value]:
    values = task_values(source.ended_tasks(period), source.created_tasks(period))
    for kind, credits in sorted(source.credits(period).items()):
        if kind in _CREDIT_METRICS:
            values.append(Value(_CREDIT_METRICS[kind], ALL, ALL, credits))
    uploads, rejected, upload_bytes = source.uploads(period)
    values += [
        Value("uploads", ALL, ALL, uploads),
        Value("uploads_rejected", ALL, ALL, rejected),
        Value("upload_bytes", ALL, ALL, upload_bytes),
        Value("active_users", ALL, ALL, source.active_users(period)),
    ]
    return values


def _summed_values(uow: Transaction, period: Period) -> list[Value]:
    summed = uow.repository(RollupRepository).breakdown(
        grain="hour",
        metrics=[metric for metric in METRICS if metric not in NOT_ADDITIVE],
        since=period.start,
        until=period.end,
    )
    active = uow.repository(RollupSource).active_users(period)
    return [*summed, Value("active_users", ALL, ALL, active)]
