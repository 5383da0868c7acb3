"""The `reaper` job: ends overdue tasks, re-drives lost step messages, purges old keys and
old callback events.
(The step functions' handlers are wired in `retouch.bootstrap.steps`.)"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from retouch.core.db import get_database
from retouch.core.logging import logger
from retouch.core.settings import get_settings
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transactions
from retouch.idempotency import purge_expired_keys
from retouch.pipeline.repository import StepRepository

if TYPE_CHECKING:
    from retouch.core.redis import RedisClient
    from retouch.queue.port import QueuePort

#: Tasks the reaper ends per run at most; the next run (a minute later) takes the rest.
REAP_BATCH = 500
#: Batches of old callback events one run deletes at most (each its own transaction).
EVENT_PURGE_BATCHES = 20


def reap_overdue(*, clock: Clock = utc_now) -> dict[str, Any]:
    """Fail every unfinished task past its deadline with TASK_TIMEOUT and return its credits
    (`tasks.lifecycle.time_out_overdue`: a task ending meanwhile is left as it ended); then
    re-drive, once, the steps whose message was lost, and forget expired Idempotency-Keys and
    callback events past RETOUCH_PROVIDER_EVENTS_RETENTION_S."""
    # Here, not at import: the retention job imports this module for `purge_provider_events`
    # and never needs the task endings (docs/performance.md, issue 20).
    from retouch.tasks.lifecycle import time_out_overdue

    database, settings = get_database("job"), get_settings()
    overdue, timed_out = time_out_overdue(
        database=database, redis=_redis, clock=clock, limit=REAP_BATCH
    )
    redriven = redrive_stale_steps(
        database=database,
        queue=_queue,
        stale_s=settings.pipeline_step_stale_s,
        clock=clock,
    )
    purged = purge_expired_keys(database=database, limit=REAP_BATCH, clock=clock)
    events = purge_provider_events(
        database=database, retention_s=settings.provider_events_retention_s, clock=clock
    )
    return {
        "overdue": overdue,
        "timed_out": timed_out,
        "redriven": redriven,
        "keys_purged": purged,
        "events_purged": events,
    }


def _redis() -> RedisClient:
    """The Redis client, its library imported on first need: most runs end nothing."""
    from retouch.core.redis import get_redis

    return get_redis()


def _queue() -> QueuePort:
    """The queue, its client library imported on first need: most runs re-drive nothing."""
    from retouch.queue.factory import get_queue

    return get_queue()


def purge_provider_events(
    *,
    database: Transactions,
    retention_s: float,
    clock: Clock = utc_now,
    batch: int = REAP_BATCH,
    max_batches: int = EVENT_PURGE_BATCHES,
) -> int:
    """Forget callback events received more than `retention_s` ago, oldest first, `batch`
    rows per transaction (no run holds the table's locks for long) and at most `max_batches`
    per run: the next run takes the rest. Returns how many were deleted."""
    before = clock() - timedelta(seconds=retention_s)
    purged = 0
    for _ in range(max_batches):
        with database.unit_of_work() as uow:
            deleted = uow.repository(StepRepository).purge_events(before=before, limit=batch)
            uow.commit()
        purged += deleted
        if deleted < batch:
            break
    return purged


def redrive_stale_steps(
    *,
    database: Transactions,
    queue: Callable[[], QueuePort],
    stale_s: float,
    clock: Clock = utc_now,
    limit: int = REAP_BATCH,
) -> int:
    """Send once more the message of every step nobody touched for `stale_s`
    (RETOUCH_PIPELINE_STEP_STALE_S: its message was lost, a queue without persistence, a
    message dead-lettered by crashes). Once per step: a second loss waits for the deadline.
    `queue` gives the queue, asked only when a step is re-driven."""
    from retouch.pipeline.messages import StepMessage, step_queue  # the reaper's path only
    from retouch.queue.outbox import enqueue_in, publish_committed

    now = clock()
    before = now - timedelta(seconds=stale_s)
    messages = []
    with database.unit_of_work() as uow:
        steps = uow.repository(StepRepository)
        for step_id, task_id, kind, index in steps.stale_steps(before=before, limit=limit):
            if steps.mark_redriven(step_id, now=now):
                body = StepMessage(task_id, kind, index).body()  # type: ignore[arg-type]
                messages.append(enqueue_in(uow, step_queue(kind), body, clock=clock))
        uow.commit()
    if messages:
        publish_committed(database=database, queue=queue(), messages=messages, clock=clock)
        logger.warning("stale steps re-driven", extra={"steps": len(messages)})
    return len(messages)
