"""Task transitions of the engine: start, and the one ending of every task.

`finish_task` is the only way a running task ends (besides the owner's cancel in
`retouch.tasks.service`): one transaction moves the task to its terminal status with a
conditional update and settles its reservation — charge on success, refund otherwise — so
of any number of concurrent or repeated endings (a redelivered finalize message, the reaper,
a cancel) exactly one changes the task and moves credits; the others change nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from retouch.core.db import Database
from retouch.core.logging import logger
from retouch.core.redis import RedisClient
from retouch.core.time import Clock, utc_now
from retouch.notify import publish_task_event
from retouch.pipeline.repository import MySQLPipelineRepository
from retouch.tasks.metrics import count_finished
from retouch.tasks.records import StoredImage
from retouch.tasks.repository import MySQLTaskRepository


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a task ends: `succeeded` with its stored images, or `failed` with a registry code
    (`detail` is internal: vendor codes and messages for operators)."""

    status: Literal["succeeded", "failed"]
    images: tuple[StoredImage, ...] = ()
    error_code: str | None = None
    error_detail: str | None = None
    provider: str | None = None  # who produced the images (metrics only)


def start_task(
    *, database: Database, redis: RedisClient, task_id: str, clock: Clock = utc_now
) -> bool:
    """`queued` → `running` (the first step began); False when it was not queued."""
    with database.unit_of_work() as uow:
        started = MySQLPipelineRepository(uow).start(task_id, now=clock())
        uow.commit()
    if started:
        publish_task_event(redis, task_id, {"id": task_id, "status": "running"})
    return started


def finish_task(
    *,
    database: Database,
    redis: RedisClient,
    task_id: str,
    outcome: Outcome,
    clock: Clock = utc_now,
) -> bool:
    """End an unfinished task with `outcome` and settle its credits, exactly once. False when
    the task had already ended (finished, failed, canceled, timed out): nothing changes."""
    if outcome.status == "failed" and not outcome.error_code:
        raise ValueError("a failed outcome names its error code")
    now = clock()
    with database.unit_of_work() as uow:
        transitions = MySQLPipelineRepository(uow)
        if outcome.status == "succeeded":
            changed = transitions.succeed(task_id, images=outcome.images, now=now)
        else:
            changed = transitions.fail(
                task_id, code=str(outcome.error_code), detail=outcome.error_detail, now=now
            )
        task = MySQLTaskRepository(uow).get_by_public_id(task_id) if changed else None
        if task is not None and task.cost > 0:
            # Here, not at import: a step function's cold start (a message for a task that
            # has ended, most often) never settles credits (docs/performance.md).
            from retouch.quota.errors import ReservationNotFound
            from retouch.quota.reservations import charge_in, refund_in

            settle = charge_in if outcome.status == "succeeded" else refund_in
            try:
                settle(uow=uow, task_ref=task_id, clock=lambda: now)
            except ReservationNotFound:
                # Never the case for a task made by POST /v1/tasks; a row written by hand (or
                # imported) still ends, and nothing moves that was never reserved.
                logger.error("task without a reservation", extra={"task": task_id})
        uow.commit()
    if task is None:
        logger.info("task already ended", extra={"task": task_id, "outcome": outcome.status})
        return False
    publish_task_event(redis, task_id, {"id": task_id, "status": outcome.status})
    count_finished(
        feature=task.feature_key,
        status=outcome.status,
        credits=task.cost,
        provider=outcome.provider,
    )
    logger.info(
        "task ended",
        extra={"task": task_id, "status": outcome.status, "error_code": outcome.error_code},
    )
    return True
