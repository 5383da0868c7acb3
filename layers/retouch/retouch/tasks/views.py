"""Reading tasks: one of the caller's (`get_task`, or read with the caller), a page of them
(`list_tasks`), and the client's view of a task (`to_read`: signed output URLs, registry
error messages). Every read checks ownership: another user's task is absent."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

from retouch.core.errors import REGISTRY
from retouch.core.identity import Principal
from retouch.core.pagination import InvalidCursor, decode_cursor, encode_cursor
from retouch.core.security import derived_key
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transaction, Transactions
from retouch.storage import Storage
from retouch.tasks.errors import TaskNotFound
from retouch.tasks.records import is_task_id
from retouch.tasks.repository import TaskRepository
from retouch.tasks.schemas import (
    MAX_PAGE_SIZE,
    OutputImage,
    Task,
    TaskError,
    TaskOutput,
    TaskPage,
    TaskRead,
    TaskStatus,
)


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task as its owner sees it, and the validator of that view."""

    task: TaskRead
    etag: str


def get_task(
    *,
    database: Transactions,
    storage: Storage,
    settings: Settings,
    principal: Principal,
    task_id: str,
    language: str,
    clock: Clock = utc_now,
) -> TaskView:
    """The caller's task with output URLs valid for a while, and its weak ETag."""
    with database.read_only() as uow:
        task = owned_task(uow, task_id, principal)
    return task_view(task, storage=storage, settings=settings, language=language, clock=clock)


def get_attached_task(
    task: Task | None,
    *,
    storage: Storage,
    settings: Settings,
    language: str,
    clock: Clock = utc_now,
) -> TaskView:
    """`get_task` for a task read with the caller (`tasks.caller_read`); TaskNotFound when
    it found none of the caller's."""
    if task is None:
        raise TaskNotFound
    return task_view(task, storage=storage, settings=settings, language=language, clock=clock)


def task_view(
    task: Task, *, storage: Storage, settings: Settings, language: str, clock: Clock = utc_now
) -> TaskView:
    """The view of a task with output URLs valid for a while, and its weak ETag: the task's
    revision and, with outputs, the URLs' expiry window (an unchanged task within one window
    is a 304)."""
    now = clock()
    expires_at = url_expiry(now, settings.task_output_url_expires_s)
    window = f"-{int(expires_at.timestamp())}" if task.images else ""
    return TaskView(
        task=to_read(task, storage=storage, language=language, now=now, expires_at=expires_at),
        etag=f'W/"{task.public_id[4:]}.{task.revision}{window}"',
    )


def list_tasks(
    *,
    database: Transactions,
    storage: Storage,
    settings: Settings,
    principal: Principal,
    status: TaskStatus | None,
    feature: str | None,
    cursor: str | None,
    limit: int,
    language: str,
    clock: Clock = utc_now,
) -> TaskPage:
    """The caller's visible tasks, newest first, `limit` (≤ 100) per page; the cursor is
    signed and bound to the caller and the filters, so an edited one is a 422."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError("limit is checked by the router")
    secret = derived_key(settings, "task-cursor")
    context = f"{principal.public_id}|{status or ''}|{feature or ''}"
    after = None
    if cursor is not None:
        created_ms, last_id = decode_cursor(cursor, (int, str), secret=secret, context=context)
        if not isinstance(created_ms, int) or not 0 <= created_ms < 2**47:
            raise InvalidCursor
        after = (datetime.fromtimestamp(created_ms / 1000, timezone.utc), str(last_id))
    with database.read_only() as uow:
        rows = uow.repository(TaskRepository).page(
            user_id=principal.user.id,
            status=status,
            feature_key=feature,
            after=after,
            limit=limit + 1,
        )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        created_ms = round(last.created_at.timestamp() * 1000)
        next_cursor = encode_cursor((created_ms, last.public_id), secret=secret, context=context)
    now = clock()
    expires_at = url_expiry(now, settings.task_output_url_expires_s)
    return TaskPage(
        items=[
            to_read(task, storage=storage, language=language, now=now, expires_at=expires_at)
            for task in page
        ],
        next_cursor=next_cursor,
    )


def to_read(
    task: Task, *, storage: Storage, language: str, now: datetime, expires_at: datetime
) -> TaskRead:
    """The client's view of a task: output keys become signed URLs of our storage; the error
    is a registry code and its message, never a vendor's words."""
    output = None
    if task.images:
        expires_s = max(1, math.ceil((expires_at - now).total_seconds()))
        output = TaskOutput(
            images=[
                OutputImage(
                    url=storage.presign_download(image.key, expires_s=expires_s),
                    width=image.width,
                    height=image.height,
                    expires_at=expires_at,
                )
                for image in task.images
            ]
        )
    error = None
    if task.error_code is not None:
        entry = REGISTRY.get(task.error_code) or REGISTRY["INTERNAL"]
        error = TaskError(code=entry.code, message=entry.message(language))
    return TaskRead(
        id=task.public_id,
        feature=task.feature_key,
        status=task.status,
        inputs=task.inputs,
        output=output,
        error=error,
        cost=task.cost,
        created_at=task.created_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
    )


def url_expiry(now: datetime, lifetime_s: int) -> datetime:
    """The end of the next whole window of `lifetime_s`: URLs signed within one window share
    it, so they live between `lifetime_s` and twice that, and an unchanged task keeps its
    ETag for the window."""
    epoch = math.floor(now.timestamp() / lifetime_s) * lifetime_s + 2 * lifetime_s
    return datetime.fromtimestamp(epoch, timezone.utc)


def owned_task(uow: Transaction, task_id: str, principal: Principal, *, lock: bool = False) -> Task:
    """The caller's visible task `task_id` (locked with `lock`); TaskNotFound otherwise."""
    if not is_task_id(task_id):
        raise TaskNotFound
    task = uow.repository(TaskRepository).get_owned(
        task_id, user_id=principal.user.id, for_update=lock
    )
    if task is None:
        raise TaskNotFound
    return task
