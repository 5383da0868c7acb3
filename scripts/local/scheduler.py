"""Local EventBridge: runs the template's Schedule events against their functions.

Understands `rate(N minute|minutes|hour|hours|day|days)` and the six-field AWS
`cron(minutes hours day-of-month month day-of-week year)` with `*`, `?`, lists, ranges and
steps (not `L`, `W` or `#`). Times are UTC, as on AWS.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol

from scripts.local.sam import FunctionSpec, Schedule

_RATE = re.compile(r"rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)")
_CRON = re.compile(r"cron\((.+)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]  # AWS numbers them 1-7 from Sunday
_SEARCH_DAYS = 366 * 5


class ScheduleExpressionError(ValueError):
    """A schedule expression this local scheduler cannot run; the message says why."""


class NextRun(Protocol):
    def next_after(self, moment: datetime) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class Rate:
    """`rate(N unit)`: every `interval`, counted from when the scheduler started."""

    interval: timedelta

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


@dataclass(frozen=True, slots=True)
class Cron:
    """An AWS cron expression as the sets of values each field allows (None: any)."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int] | None
    months: frozenset[int]
    days_of_week: frozenset[int] | None  # Python weekday(): Monday is 0
    years: frozenset[int] | None

    def next_after(self, moment: datetime) -> datetime | None:
        """The first whole minute strictly after `moment` that matches, or None for years."""
        start = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
        for offset in range(_SEARCH_DAYS):
            day = (start + timedelta(days=offset)).date()
            if not self._matches_day(day.year, day.month, day.day, day.weekday()):
                continue
            for hour in sorted(self.hours):
                for minute in sorted(self.minutes):
                    candidate = datetime(
                        day.year, day.month, day.day, hour, minute, tzinfo=timezone.utc
                    )
                    if candidate >= start:
                        return candidate
        return None

    def _matches_day(self, year: int, month: int, day: int, weekday: int) -> bool:
        return (
            month in self.months
            and (self.years is None or year in self.years)
            and (self.days_of_month is None or day in self.days_of_month)
            and (self.days_of_week is None or weekday in self.days_of_week)
        )


def parse_schedule(expression: str) -> Rate | Cron:
    """Parse `rate(...)` or `cron(...)`; raise ScheduleExpressionError for anything else."""
    expression = expression.strip()
    rate = _RATE.fullmatch(expression)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2).removesuffix("s")
        if value < 1:
            raise ScheduleExpressionError(f"{expression}: the rate must be at least 1")
        return Rate(timedelta(seconds=value * _UNIT_SECONDS[unit]))
    cron = _CRON.fullmatch(expression)
    if cron:
        return _parse_cron(expression, cron.group(1).split())
    raise ScheduleExpressionError(f"{expression}: not a rate(...) or cron(...) expression")


def _parse_cron(expression: str, fields: list[str]) -> Cron:
    if len(fields) != 6:
        raise ScheduleExpressionError(f"{expression}: AWS cron has six fields")
    minutes, hours, days_of_month, months, days_of_week, years = fields
    if (days_of_month == "?") == (days_of_week == "?"):
        raise ScheduleExpressionError(
            f"{expression}: exactly one of day-of-month and day-of-week must be ?"
        )
    # AWS counts days of week 1-7 from Sunday; Python's weekday() counts 0-6 from Monday.
    aws_days = _field(expression, days_of_week, 1, 7, _DAYS, first_name=1)
    return Cron(
        minutes=_field(expression, minutes, 0, 59) or frozenset(range(60)),
        hours=_field(expression, hours, 0, 23) or frozenset(range(24)),
        days_of_month=_field(expression, days_of_month, 1, 31),
        months=_field(expression, months, 1, 12, _MONTHS, first_name=1) or frozenset(range(1, 13)),
        days_of_week=None if aws_days is None else frozenset((day - 2) % 7 for day in aws_days),
        years=_field(expression, years, 1970, 2199),
    )


def _field(
    expression: str,
    text: str,
    low: int,
    high: int,
    names: Sequence[str] = (),
    *,
    first_name: int = 0,
) -> frozenset[int] | None:
    """The values one cron field allows; None for `*` or `?` (anything)."""
    if text in ("*", "?"):
        return None
    values: set[int] = set()
    for part in text.split(","):
        span, _, step_text = part.partition("/")
        if span == "*":
            first, last = low, high
        else:
            first_text, _, last_text = span.partition("-")
            first = _value(expression, first_text, names, first_name)
            last = _value(expression, last_text, names, first_name) if last_text else first
            if step_text and not last_text:
                last = high
        step = _value(expression, step_text, (), 0) if step_text else 1
        if not (low <= first <= last <= high) or step < 1:
            raise ScheduleExpressionError(f"{expression}: {part!r} is outside {low}-{high}")
        values.update(range(first, last + 1, step))
    return frozenset(values)


def _value(expression: str, text: str, names: Sequence[str], first_name: int) -> int:
    upper = text.upper()
    if upper in names:
        return names.index(upper) + first_name
    if not text.isdigit():
        raise ScheduleExpressionError(f"{expression}: {text!r} is not supported locally")
    return int(text)


def scheduled_event(rule_name: str, moment: datetime) -> dict[str, Any]:
    """The EventBridge "Scheduled Event" a rule sends to its target."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "local",
        "resources": [f"arn:aws:events:local:123456789012:rule/{rule_name}"],
        "detail": {},
    }


Invoke = Callable[[FunctionSpec, dict[str, Any]], Awaitable[Any]]


@dataclass(frozen=True, slots=True)
class ScheduledJob:
    """One enabled Schedule event of one function, parsed."""

    function: FunctionSpec
    schedule: Schedule
    timing: Rate | Cron

    @property
    def rule_name(self) -> str:
        return f"{self.function.logical_id}-{self.schedule.event_name}"

    def event(self, moment: datetime) -> dict[str, Any]:
        if self.schedule.input is not None:
            return json.loads(self.schedule.input)  # type: ignore[no-any-return]
        return scheduled_event(self.rule_name, moment)


def scheduled_jobs(functions: Sequence[FunctionSpec]) -> list[ScheduledJob]:
    """Every enabled schedule of `functions`; an expression we cannot run stops the stack."""
    return [
        ScheduledJob(function=spec, schedule=schedule, timing=parse_schedule(schedule.expression))
        for spec in functions
        for schedule in spec.schedules
        if schedule.enabled
    ]


async def run_schedules(
    jobs: Sequence[ScheduledJob],
    invoke: Invoke,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
) -> None:
    """Invoke each job when it is due, until cancelled. A failed invocation is reported and
    the schedule goes on, as EventBridge would retry and move on."""
    started = clock()
    due = {job.rule_name: job.timing.next_after(started) for job in jobs}
    while any(moment is not None for moment in due.values()):
        now = clock()
        for job in jobs:
            moment = due[job.rule_name]
            if moment is None or moment > now:
                continue
            due[job.rule_name] = job.timing.next_after(now)
            try:
                await invoke(job.function, job.event(moment))
            except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others
                print(f"scheduler: {job.rule_name} failed: {exc!r}", file=sys.stderr)
        upcoming = [moment for moment in due.values() if moment is not None]
        if upcoming:
            await asyncio.sleep(max(0.0, min(1.0, (min(upcoming) - clock()).total_seconds())))
