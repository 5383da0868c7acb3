"""Rollups: hourly, daily and weekly summaries of tasks, credits, active users and uploads,
kept in the `rollups` table by the rollup job so operator views never aggregate `tasks` per
request (issue 16 item 6; docs/observability.md, "Rollups").

    recompute_recent(database=get_database("job"))        # the job, every 5 minutes
    series(database=..., grain="hour", metric="tasks_succeeded", since=..., until=...)
"""

from retouch.rollups.periods import GRAINS, Grain, Period, periods_to_recompute
from retouch.rollups.repository import RollupPoint, RollupRepository
from retouch.rollups.service import METRICS, recompute, recompute_recent

__all__ = [
    "GRAINS",
    "METRICS",
    "Grain",
    "Period",
    "RollupPoint",
    "RollupRepository",
    "periods_to_recompute",
    "recompute",
    "recompute_recent",
]
