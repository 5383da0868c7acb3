"""The owner's cancel and delete: a task still queued or running ends as `canceled` through
`lifecycle.end_task` (its credits returned); delete then hides it for good and removes its
stored images."""

from __future__ import annotations

from datetime import datetime

from retouch.core.identity import Principal
from retouch.core.logging import logger
from retouch.core.redis import RedisClient
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transaction, Transactions
from retouch.queue.outbox import OutboxMessage, enqueue_in, publish_committed
from retouch.queue.port import QueuePort
from retouch.queue.steps import step_queue
from retouch.storage import Storage
from retouch.tasks.errors import TaskNotCancelable
from retouch.tasks.lifecycle import CANCELED, Ended, announce_status, end_task
from retouch.tasks.records import ACTIVE, Task
from retouch.tasks.repository import TaskRepository
from retouch.tasks.schemas import TaskRead
from retouch.tasks.views import owned_task, to_read, url_expiry


def cancel_task(
    *,
    database: Transactions,
    storage: Storage,
    redis: RedisClient,
    queue: QueuePort,
    settings: Settings,
    principal: Principal,
    task_id: str,
    language: str,
    clock: Clock = utc_now,
) -> TaskRead:
    """Cancel a queued or running task and return its credits, once; a vendor job it runs is
    canceled by the `generate` step at once (best effort). Canceling a canceled task answers
    it again; a finished one is TaskNotCancelable (409)."""
    now = clock()
    with database.unit_of_work() as uow:
        task = owned_task(uow, task_id, principal, lock=True)
        ended = cancel_in(uow, task, now=now)
        stop = _stop_vendor_job(uow, task, ended, now=now)
        task = owned_task(uow, task_id, principal)
        uow.commit()
    if ended is None:
        announce_status(redis, task.public_id, task.status)
    else:
        ended.announce(redis)
        publish_committed(database=database, queue=queue, messages=stop, clock=clock)
    expires_at = url_expiry(now, settings.task_output_url_expires_s)
    return to_read(task, storage=storage, language=language, now=now, expires_at=expires_at)


def delete_task(
    *,
    database: Transactions,
    storage: Storage,
    redis: RedisClient,
    queue: QueuePort,
    principal: Principal,
    task_id: str,
    clock: Clock = utc_now,
) -> None:
    """Hide the task from its owner for good and delete its stored images; an unfinished
    task is canceled first (credits returned)."""
    with database.unit_of_work() as uow:
        task = owned_task(uow, task_id, principal, lock=True)
        now = clock()
        ended = end_task(uow, task, CANCELED, now=now) if task.status in ACTIVE else None
        stop = _stop_vendor_job(uow, task, ended, now=now)
        uow.repository(TaskRepository).hide(task.id)
        uow.commit()
    if ended is not None:
        ended.announce(redis)
        publish_committed(database=database, queue=queue, messages=stop, clock=clock)
    for image in task.images:
        try:
            storage.delete(image.key)
        except Exception:  # noqa: BLE001 - the task is hidden; the object is an orphan
            logger.exception("output image not deleted", extra={"task": task.public_id})
    logger.info("task deleted", extra={"task": task.public_id, "images": len(task.images)})


def cancel_in(uow: Transaction, task: Task, *, now: datetime) -> Ended | None:
    """Cancel `task` in `uow`, its credits returned: its ending, or None when it was canceled
    already (nothing changes); TaskNotCancelable when it finished otherwise."""
    if task.status not in ACTIVE and task.status != "canceled":
        raise TaskNotCancelable("The task has already finished")
    return end_task(uow, task, CANCELED, now=now) if task.status in ACTIVE else None


def _stop_vendor_job(
    uow: Transaction, task: Task, ended: Ended | None, *, now: datetime
) -> list[OutboxMessage]:
    """A running task just canceled gets a `generate` message, which finds the task ended and
    cancels the vendor job it may run now rather than at its next poll; published after
    commit."""
    if ended is None or task.status != "running":
        return []
    stop = {"task_id": task.public_id, "step": "generate", "attempt": 1}
    return [enqueue_in(uow, step_queue("generate"), stop, clock=lambda: now)]
