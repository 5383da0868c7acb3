"""Scheduled work of the engine: the `reaper` job."""

from __future__ import annotations

from typing import Any

from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.core.time import Clock, utc_now
from retouch.pipeline.repository import MySQLPipelineRepository
from retouch.pipeline.service import Outcome, finish_task

#: Tasks the reaper ends per run at most; the next run (a minute later) takes the rest.
REAP_BATCH = 500
_TIMEOUT = Outcome(status="failed", error_code="TASK_TIMEOUT", error_detail="deadline passed")


def reap_overdue(*, clock: Clock = utc_now) -> dict[str, Any]:
    """Fail every unfinished task past its deadline with TASK_TIMEOUT and return its credits
    (through `finish_task`: a task ending meanwhile by other means is left as it ended)."""
    database, redis = get_database(), get_redis()
    with database.read_only() as uow:
        overdue = MySQLPipelineRepository(uow).overdue(now=clock(), limit=REAP_BATCH)
    timed_out = sum(
        finish_task(database=database, redis=redis, task_id=task_id, outcome=_TIMEOUT, clock=clock)
        for task_id in overdue
    )
    return {"overdue": len(overdue), "timed_out": timed_out}
