"""The `reaper` job: ends overdue tasks, re-drives lost step messages, purges old keys.
(The step functions' handlers are wired in `retouch.bootstrap.steps`.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from retouch.core.db import get_database
from retouch.core.logging import logger
from retouch.core.redis import get_redis
from retouch.core.settings import get_settings
from retouch.core.time import Clock, utc_now
from retouch.idempotency import purge_expired_keys
from retouch.pipeline.messages import StepMessage, step_queue
from retouch.pipeline.repository import MySQLPipelineRepository
from retouch.pipeline.service import Outcome, finish_task
from retouch.queue.factory import get_queue
from retouch.queue.outbox import enqueue_in, publish_committed

#: Tasks the reaper ends per run at most; the next run (a minute later) takes the rest.
REAP_BATCH = 500
_TIMEOUT = Outcome(status="failed", error_code="TASK_TIMEOUT", error_detail="deadline passed")


def reap_overdue(*, clock: Clock = utc_now) -> dict[str, Any]:
    """Fail every unfinished task past its deadline with TASK_TIMEOUT and return its credits
    (through `finish_task`: a task ending meanwhile by other means is left as it ended); then
    re-drive, once, the steps whose message was lost, and forget expired Idempotency-Keys."""
    database, redis = get_database(), get_redis()
    with database.read_only() as uow:
        overdue = MySQLPipelineRepository(uow).overdue(now=clock(), limit=REAP_BATCH)
    timed_out = 0
    for task_id in overdue:
        try:
            timed_out += finish_task(
                database=database, redis=redis, task_id=task_id, outcome=_TIMEOUT, clock=clock
            )
        except Exception:  # noqa: BLE001 - one bad task must not stop the rest; retried next run
            logger.exception("reaper could not end a task", extra={"task": task_id})
    redriven = _redrive_stale_steps(clock=clock)
    purged = purge_expired_keys(database=database, limit=REAP_BATCH, clock=clock)
    return {
        "overdue": len(overdue),
        "timed_out": timed_out,
        "redriven": redriven,
        "keys_purged": purged,
    }


def _redrive_stale_steps(*, clock: Clock) -> int:
    """Send once more the message of every step nobody touched for
    RETOUCH_PIPELINE_STEP_STALE_S (its message was lost: a queue without persistence, a
    message dead-lettered by crashes). Once per step: a second loss waits for the deadline."""
    database, now = get_database(), clock()
    before = now - timedelta(seconds=get_settings().pipeline_step_stale_s)
    messages = []
    with database.unit_of_work() as uow:
        transitions = MySQLPipelineRepository(uow)
        for step_id, task_id, kind, index in transitions.stale_steps(
            before=before, limit=REAP_BATCH
        ):
            if transitions.mark_redriven(step_id, now=now):
                body = StepMessage(task_id, kind, index).body()  # type: ignore[arg-type]
                messages.append(enqueue_in(uow, step_queue(kind), body, clock=clock))
        uow.commit()
    publish_committed(database=database, queue=get_queue(), messages=messages, clock=clock)
    if messages:
        logger.warning("stale steps re-driven", extra={"steps": len(messages)})
    return len(messages)
