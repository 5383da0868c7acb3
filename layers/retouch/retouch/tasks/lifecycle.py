"""A task's life after its creation: it starts (`queued` → `running`) and it ends, exactly once.

`end_task` is the one ending of every task — success (`finalize`), failure (a step), timeout
(the reaper), cancel and delete (the owner): in the caller's unit of work, a conditional
update to the terminal status, and the reservation settled — charged on success, returned
otherwise. Of any number of concurrent or repeated endings (a redelivered finalize, the
reaper, a cancel) exactly one changes the task and moves credits; the others change nothing.
What it returns (`Ended`) is announced and counted once that unit of work has committed.

The step functions import this module: it must stay light (no pydantic models, no quota at
import; `tests/unit/test_step_imports.py`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from retouch.core.logging import logger
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transaction, Transactions
from retouch.notify import publish_task_event
from retouch.tasks.metrics import count_finished
from retouch.tasks.records import StoredImage, Task, TaskStatus
from retouch.tasks.repository import TaskRepository

if TYPE_CHECKING:
    from retouch.core.redis import RedisClient

#: Tasks the reaper times out per run at most; the next run (a minute later) takes the rest.
TIMEOUT_BATCH = 500


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a task ends: `succeeded` with its stored images, `failed` with a registry code
    (`detail` is internal: vendor codes and messages for operators), or `canceled`."""

    status: Literal["succeeded", "failed", "canceled"]
    images: tuple[StoredImage, ...] = ()
    error_code: str | None = None
    error_detail: str | None = None
    provider: str | None = None  # who produced the images (metrics only)


CANCELED = Outcome(status="canceled")
TIMED_OUT = Outcome(status="failed", error_code="TASK_TIMEOUT", error_detail="deadline passed")


def announce_status(redis: RedisClient, public_id: str, status: TaskStatus) -> None:
    """Tell the task's live followers its status changed (after the change committed)."""
    publish_task_event(redis, public_id, {"id": public_id, "status": status})


@dataclass(frozen=True, slots=True)
class Ended:
    """A task a unit of work ended; `announce` it once that unit has committed."""

    task: Task
    outcome: Outcome

    def announce(self, redis: RedisClient) -> None:
        """Publish the new status and count the ending (credits charged or returned)."""
        announce_status(redis, self.task.public_id, self.outcome.status)
        self.record()

    def record(self) -> None:
        """Count the ending and log it (`announce` without the status's publish)."""
        task, outcome = self.task, self.outcome
        count_finished(
            feature=task.feature_key,
            status=outcome.status,
            credits=task.cost,
            provider=outcome.provider,
        )
        logger.info(
            "task ended",
            extra={
                "task": task.public_id,
                "status": outcome.status,
                "error_code": outcome.error_code,
            },
        )


def end_task(uow: Transaction, task: Task, outcome: Outcome, *, now: datetime) -> Ended | None:
    """End `task` with `outcome` in `uow` and settle its credits. None when it had already
    ended (finished, failed, canceled, timed out): then nothing changes."""
    if outcome.status == "failed" and not outcome.error_code:
        raise ValueError("a failed outcome names its error code")
    tasks = uow.repository(TaskRepository)
    if outcome.status == "succeeded":
        changed = tasks.succeed(task.public_id, images=outcome.images, now=now)
    elif outcome.status == "failed":
        changed = tasks.fail(
            task.public_id, code=str(outcome.error_code), detail=outcome.error_detail, now=now
        )
    else:
        changed = tasks.cancel(task.public_id, now=now)
    if not changed:
        logger.info("task already ended", extra={"task": task.public_id, "to": outcome.status})
        return None
    if task.cost > 0:
        _settle(uow, task, succeeded=outcome.status == "succeeded", now=now)
    return Ended(task, outcome)


def _settle(uow: Transaction, task: Task, *, succeeded: bool, now: datetime) -> None:
    # Here, not at import: a step function's cold start (a message for a task that has
    # ended, most often) never settles credits (docs/performance.md).
    from retouch.quota.errors import ReservationNotFound
    from retouch.quota.reservations import charge_in, refund_in

    settle = charge_in if succeeded else refund_in
    try:
        settle(uow=uow, task_ref=task.public_id, clock=lambda: now)
    except ReservationNotFound:
        # Never the case for a task made by POST /v1/tasks; a row written by hand (or
        # imported) still ends, and nothing moves that was never reserved.
        logger.error("task without a reservation", extra={"task": task.public_id})


def finish_task(
    *,
    database: Transactions,
    redis: RedisClient,
    task_id: str,
    outcome: Outcome,
    clock: Clock = utc_now,
) -> bool:
    """`end_task` in a unit of work of its own, announced: for an ending that is the whole
    use case (the reaper's timeouts). False when the task had already ended (or is none)."""
    now = clock()
    with database.unit_of_work() as uow:
        task = uow.repository(TaskRepository).get_by_public_id(task_id)
        ended = None if task is None else end_task(uow, task, outcome, now=now)
        uow.commit()
    if ended is None:
        return False
    ended.announce(redis)
    return True


def time_out_overdue(
    *,
    database: Transactions,
    redis: Callable[[], RedisClient],
    clock: Clock = utc_now,
    limit: int = TIMEOUT_BATCH,
) -> tuple[int, int]:
    """Fail every unfinished task past its deadline with TASK_TIMEOUT and return its credits
    (a task ending meanwhile by other means is left as it ended): (overdue, timed out).
    `redis` gives the client that announces the endings, asked only when a task is overdue:
    a run with nothing to end (most runs) never loads the Redis client."""
    with database.read_only() as uow:
        overdue = uow.repository(TaskRepository).overdue(now=clock(), limit=limit)
    timed_out = 0
    for task_id in overdue:
        try:
            timed_out += finish_task(
                database=database, redis=redis(), task_id=task_id, outcome=TIMED_OUT, clock=clock
            )
        except Exception:  # noqa: BLE001 - one bad task must not stop the rest; retried next run
            logger.exception("could not time out a task", extra={"task": task_id})
    return len(overdue), timed_out
