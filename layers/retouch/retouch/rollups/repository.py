"""The `rollups` table: its one writer (a period's rows replaced whole) and the reads of the
operator views (a series, the totals of a window). `RollupRepository` is the port."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from retouch.core.db import UnitOfWork
from retouch.core.time import from_db, to_db
from retouch.core.units import sql_adapter
from retouch.rollups.periods import Grain, Period
from retouch.rollups.sources import ALL, Value


@dataclass(frozen=True, slots=True)
class RollupPoint:
    """One value of a series: the period's start (aware UTC) and the value."""

    period_start: datetime
    value: int


class RollupRepository(Protocol):
    def replace(self, period: Period, values: Sequence[Value], *, now: datetime) -> None:
        """Make `values` the period's rows: every row of the period not among them goes."""
        ...

    def series(
        self,
        *,
        grain: Grain,
        metric: str,
        since: datetime,
        until: datetime,
        feature_key: str = ALL,
        provider_key: str = ALL,
    ) -> list[RollupPoint]: ...

    def breakdown(
        self, *, grain: Grain, metrics: Collection[str], since: datetime, until: datetime
    ) -> list[Value]:
        """Each metric summed over [since, until), per feature and provider (ALL included)."""
        ...


_INSERT = (
    "INSERT INTO rollups (grain, period_start, metric, feature_key, provider_key, value, "
    "computed_at) VALUES "
)
_BATCH = 500  # rows per INSERT statement


@sql_adapter(RollupRepository)
class MySQLRollupRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def replace(self, period: Period, values: Sequence[Value], *, now: datetime) -> None:
        start, computed = to_db(period.start), to_db(now)
        self._uow.execute(
            "DELETE FROM rollups WHERE grain = %s AND period_start = %s", (period.grain, start)
        )
        for batch in range(0, len(values), _BATCH):
            rows = values[batch : batch + _BATCH]
            self._uow.execute(
                _INSERT + ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows)),
                tuple(
                    field
                    for v in rows
                    for field in (
                        period.grain,
                        start,
                        v.metric,
                        v.feature_key,
                        v.provider_key,
                        v.value,
                        computed,
                    )
                ),
            )

    def series(
        self,
        *,
        grain: Grain,
        metric: str,
        since: datetime,
        until: datetime,
        feature_key: str = ALL,
        provider_key: str = ALL,
    ) -> list[RollupPoint]:
        rows = self._uow.fetch_all(
            "SELECT period_start, value FROM rollups WHERE grain = %s AND metric = %s "
            "AND period_start >= %s AND period_start < %s "
            "AND feature_key = %s AND provider_key = %s ORDER BY period_start",
            (grain, metric, to_db(since), to_db(until), feature_key, provider_key),
        )
        return [RollupPoint(from_db(row["period_start"]), int(row["value"])) for row in rows]

    def breakdown(
        self, *, grain: Grain, metrics: Collection[str], since: datetime, until: datetime
    ) -> list[Value]:
        # Only `%s` markers are formatted in: the metrics themselves travel as parameters.
        placeholders = ", ".join(["%s"] * len(metrics))
        rows = self._uow.fetch_all(
            "SELECT metric, feature_key, provider_key, SUM(value) AS value FROM rollups "  # noqa: S608
            f"WHERE grain = %s AND metric IN ({placeholders}) "
            "AND period_start >= %s AND period_start < %s "
            "GROUP BY metric, feature_key, provider_key ORDER BY metric, feature_key, provider_key",
            (grain, *metrics, to_db(since), to_db(until)),
        )
        return [
            Value(row["metric"], row["feature_key"], row["provider_key"], int(row["value"]))
            for row in rows
        ]
