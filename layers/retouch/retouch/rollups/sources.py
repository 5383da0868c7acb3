"""The bounded aggregates an hour's rollup is made of: each reads one time range through an
index of migration 0017 (tasks by creation and by ending, ledger rows, uploads). Read-only
SQL over other domains' tables: the rollups own no rule of theirs, only the summary."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from retouch.core.db import Row, UnitOfWork
from retouch.core.time import to_db
from retouch.core.units import sql_adapter
from retouch.rollups.periods import Period

ALL = "*"  # every feature or provider
NONE = ""  # no provider: the task ended before any provider took it

Dimensions = tuple[str, str]  # (feature_key, provider_key)


@dataclass(frozen=True, slots=True)
class Value:
    """One metric's value in one period for one feature and provider (ALL: all of them)."""

    metric: str
    feature_key: str
    provider_key: str
    value: int


@dataclass(frozen=True, slots=True)
class EndedTask:
    """A task that ended in the period, as the aggregate needs it."""

    feature_key: str
    provider_key: str
    status: str
    duration_ms: int
    fallbacks: int


class RollupSource(Protocol):
    """The raw figures of one period (an hour, or a day or week for the distinct users)."""

    def ended_tasks(self, period: Period) -> list[EndedTask]: ...

    def created_tasks(self, period: Period) -> list[tuple[str, int]]:
        """(feature_key, tasks created) of the period."""
        ...

    def active_users(self, period: Period) -> int:
        """Distinct users who created a task in the period."""
        ...

    def credits(self, period: Period) -> dict[str, int]:
        """Credits moved in the period by ledger kind (charge: the reserved credits spent)."""
        ...

    def uploads(self, period: Period) -> tuple[int, int, int]:
        """(uploads created, of them rejected, bytes read) of the period."""
        ...


_ENDED = (
    "SELECT t.feature_key, t.status, "
    "TIMESTAMPDIFF(MICROSECOND, t.created_at, t.finished_at) DIV 1000 AS duration_ms, "
    "(SELECT s.provider_key FROM task_steps s WHERE s.task_id = t.id AND s.step = 'generate' "
    " ORDER BY s.step_index DESC LIMIT 1) AS provider_key, "
    "(SELECT COALESCE(SUM(JSON_LENGTH(s.fallbacks)), 0) FROM task_steps s "
    " WHERE s.task_id = t.id) AS fallbacks "
    "FROM tasks t FORCE INDEX (ix_tasks_finished) "
    "WHERE t.finished_at >= %s AND t.finished_at < %s"
)

_CREATED = (
    "SELECT feature_key, COUNT(*) AS n FROM tasks FORCE INDEX (ix_tasks_created) "
    "WHERE created_at >= %s AND created_at < %s GROUP BY feature_key"
)
_ACTIVE = (
    "SELECT COUNT(DISTINCT user_id) AS n FROM tasks FORCE INDEX (ix_tasks_created) "
    "WHERE created_at >= %s AND created_at < %s"
)
_MOVED = (
    "SELECT kind, SUM(amount) AS credits FROM quota_ledger "
    "WHERE created_at >= %s AND created_at < %s AND kind <> 'charge' GROUP BY kind"
)
# A charge moves no balance (the credits left it at reserve): it spends the amount its task
# reserved, found by the (ref, kind) key. STRAIGHT_JOIN: the range of charges drives the join
# (the optimizer, left alone, may scan every reserve row instead).
_CHARGED = (
    "SELECT COALESCE(-SUM(r.amount), 0) AS credits "
    "FROM quota_ledger c FORCE INDEX (ix_quota_ledger_created) "
    "STRAIGHT_JOIN quota_ledger r ON r.ref = c.ref AND r.kind = 'reserve' "
    "WHERE c.kind = 'charge' AND c.created_at >= %s AND c.created_at < %s"
)
_UPLOADS = (
    "SELECT COUNT(*) AS n, COALESCE(SUM(status = 'rejected'), 0) AS rejected, "
    "COALESCE(SUM(actual_size), 0) AS bytes FROM uploads "
    "WHERE created_at >= %s AND created_at < %s"
)
#: Every range read of an hour's rollup, for the plan tests.
RANGE_READS = {
    "ended": _ENDED,
    "created": _CREATED,
    "active": _ACTIVE,
    "moved": _MOVED,
    "charged": _CHARGED,
    "uploads": _UPLOADS,
}


@sql_adapter(RollupSource)
class MySQLRollupSource:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def _range(self, period: Period) -> tuple[object, object]:
        return to_db(period.start), to_db(period.end)

    def ended_tasks(self, period: Period) -> list[EndedTask]:
        return [_ended(row) for row in self._uow.fetch_all(_ENDED, self._range(period))]

    def created_tasks(self, period: Period) -> list[tuple[str, int]]:
        rows = self._uow.fetch_all(_CREATED, self._range(period))
        return [(row["feature_key"], int(row["n"])) for row in rows]

    def active_users(self, period: Period) -> int:
        row = self._uow.fetch_one(_ACTIVE, self._range(period))
        return int(row["n"]) if row else 0

    def credits(self, period: Period) -> dict[str, int]:
        moved = {
            row["kind"]: abs(int(row["credits"]))
            for row in self._uow.fetch_all(_MOVED, self._range(period))
        }
        charged = self._uow.fetch_one(_CHARGED, self._range(period))
        moved["charge"] = int(charged["credits"]) if charged else 0
        return moved

    def uploads(self, period: Period) -> tuple[int, int, int]:
        row = self._uow.fetch_one(_UPLOADS, self._range(period))
        if row is None:
            return 0, 0, 0
        return int(row["n"]), int(row["rejected"]), int(row["bytes"])


def _ended(row: Row) -> EndedTask:
    return EndedTask(
        feature_key=row["feature_key"],
        provider_key=row["provider_key"] or NONE,
        status=row["status"],
        duration_ms=max(0, int(row["duration_ms"] or 0)),
        fallbacks=int(row["fallbacks"] or 0),
    )


def task_values(ended: Iterable[EndedTask], created: Iterable[tuple[str, int]]) -> list[Value]:
    """The task metrics of a period, per feature and provider and summed over each (ALL):
    tasks created, succeeded, failed and canceled, fallbacks, and the duration (creation to
    ending) of the succeeded ones as a sum and a 95th percentile (nearest rank)."""
    counts: dict[tuple[str, str, str], int] = defaultdict(int)
    durations: dict[Dimensions, list[int]] = defaultdict(list)
    for task in ended:
        for feature, provider in _rolled_up(task.feature_key, task.provider_key):
            counts[(f"tasks_{task.status}", feature, provider)] += 1
            counts[("task_fallbacks", feature, provider)] += task.fallbacks
            if task.status == "succeeded":
                durations[(feature, provider)].append(task.duration_ms)
    for feature_key, n in created:
        counts[("tasks_created", feature_key, ALL)] += n
        counts[("tasks_created", ALL, ALL)] += n
    for (feature, provider), spans in durations.items():
        counts[("task_duration_ms_sum", feature, provider)] = sum(spans)
        counts[("task_duration_ms_p95", feature, provider)] = percentile(spans, 95)
    return [Value(metric, f, p, n) for (metric, f, p), n in sorted(counts.items())]


def _rolled_up(feature: str, provider: str) -> list[Dimensions]:
    return [(feature, provider), (feature, ALL), (ALL, provider), (ALL, ALL)]


def percentile(values: list[int], rank: int) -> int:
    """The nearest-rank percentile of `values` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(rank / 100 * len(ordered)) - 1)]
