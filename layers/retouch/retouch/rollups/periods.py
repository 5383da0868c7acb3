"""Rollup periods: an hour, a UTC day or a week (Monday to Monday), and which of them the job
recomputes on each run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Literal

Grain = Literal["hour", "day", "week"]
GRAINS: tuple[Grain, ...] = ("hour", "day", "week")

_LENGTH: dict[Grain, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(weeks=1),
}


@dataclass(frozen=True, slots=True)
class Period:
    """One period of a grain: `start` inclusive, `end` exclusive, both aware UTC."""

    grain: Grain
    start: datetime

    @property
    def end(self) -> datetime:
        return self.start + _LENGTH[self.grain]


def period_of(grain: Grain, moment: datetime) -> Period:
    """The period of `grain` that holds `moment`."""
    utc = moment.astimezone(timezone.utc)
    hour = utc.replace(minute=0, second=0, microsecond=0)
    if grain == "hour":
        return Period(grain, hour)
    day = hour.replace(hour=0)
    if grain == "day":
        return Period(grain, day)
    return Period(grain, day - timedelta(days=day.weekday()))


def previous(period: Period) -> Period:
    """The period just before `period`."""
    return Period(period.grain, period.start - _LENGTH[period.grain])


def periods_to_recompute(now: datetime) -> list[Period]:
    """The recompute window: the current and the previous period of each grain.

    A row counts a task in the hour it was created or ended; the job runs every 5 minutes, so
    an hour is recomputed until an hour after it closed, and a day and a week (the sums of
    their hours) until a day and a week after. An ending that commits later than its hour's
    window (a transaction open for over an hour: none of ours), or an hour the job missed in
    an outage, is counted only by a backfill (`service.backfill`, the job's `since`/`until`).
    """
    periods: list[Period] = []
    for grain in GRAINS:
        current = period_of(grain, now)
        periods += [previous(current), current]
    return periods


def periods_between(grain: Grain, since: datetime, until: datetime) -> list[Period]:
    """Every period of `grain` that overlaps [since, until), oldest first."""
    found: list[Period] = []
    period = period_of(grain, since)
    while period.start < until:
        found.append(period)
        period = Period(grain, period.end)
    return found
