"""`/v1/admin/tasks`: any user's task with its steps and provider attempts, and the task list
for operators, newest first with a sealed keyset cursor.

Filtered by a user, the list is the tasks domain's own page (`TaskRepository.page`: the
user's indexes, keyset on (created_at, public_id), visible tasks); without one, everyone's
newest tasks by id through `(status, id)` or `(feature_key, id)`. Either way one index read
in order, never a sort or an OFFSET; the cursor is sealed and bound to the filters.
"""

from __future__ import annotations

from datetime import datetime, timezone

from retouch.admin.repository import AdminTaskReads
from retouch.admin.schemas import (
    AdminTaskItem,
    AdminTaskPage,
    AdminTaskQuery,
    AdminTaskRead,
)
from retouch.core.db import Database
from retouch.core.pagination import InvalidCursor, decode_cursor, encode_cursor
from retouch.core.security import derived_key
from retouch.core.settings import Settings
from retouch.core.units import Transactions
from retouch.tasks.errors import TaskNotFound
from retouch.tasks.records import Task, is_task_id
from retouch.tasks.repository import TaskRepository
from retouch.users.errors import UserNotFound
from retouch.users.repository import MySQLUserRepository


def get_task(*, database: Transactions, public_id: str) -> AdminTaskRead:
    """The task, whoever owns it, with every step; TaskNotFound when there is none."""
    if not is_task_id(public_id):
        raise TaskNotFound
    with database.read_only() as uow:
        reads = uow.repository(AdminTaskReads)
        found = reads.task(public_id)
        if found is None:
            raise TaskNotFound
        steps = reads.steps(found.task.id)
    task = found.task
    return AdminTaskRead(
        **_item(task, found.owner).model_dump(),
        form_version=task.form_version,
        pipeline_version=task.pipeline_version,
        inputs=task.inputs,
        error_detail=found.error_detail,
        hidden=task.hidden,
        started_at=task.started_at,
        deadline_at=found.deadline_at,
        steps=steps,
    )


def list_tasks(*, database: Database, settings: Settings, query: AdminTaskQuery) -> AdminTaskPage:
    """A page of tasks, newest first; UserNotFound when `user_id` names nobody."""
    secret = derived_key(settings, "admin-task-cursor")
    context = f"{query.user_id or ''}|{query.status or ''}|{query.feature or ''}"
    if query.user_id is not None:
        return _user_page(database, query, secret=secret, context=context)
    before_id = None
    if query.cursor is not None:
        (last_id,) = decode_cursor(query.cursor, (int,), secret=secret, context=context)
        if not isinstance(last_id, int) or last_id < 1:
            raise InvalidCursor
        before_id = last_id
    with database.read_only() as uow:
        rows = uow.repository(AdminTaskReads).newest(
            status=query.status,
            feature_key=query.feature,
            before_id=before_id,
            limit=query.limit + 1,
        )
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        next_cursor = encode_cursor((page[-1].task.id,), secret=secret, context=context)
    return AdminTaskPage(
        items=[_item(row.task, row.owner) for row in page], next_cursor=next_cursor
    )


def _user_page(
    database: Database, query: AdminTaskQuery, *, secret: bytes, context: str
) -> AdminTaskPage:
    after = None
    if query.cursor is not None:
        created_ms, last_id = decode_cursor(
            query.cursor, (int, str), secret=secret, context=context
        )
        if not isinstance(created_ms, int) or not 0 <= created_ms < 2**47:
            raise InvalidCursor
        after = (datetime.fromtimestamp(created_ms / 1000, timezone.utc), str(last_id))
    with database.read_only() as uow:
        user = MySQLUserRepository(uow).get_by_public_id(str(query.user_id))
        if user is None:
            raise UserNotFound
        rows = uow.repository(TaskRepository).page(
            user_id=user.id,
            status=query.status,
            feature_key=query.feature,
            after=after,
            limit=query.limit + 1,
        )
    page = rows[: query.limit]
    next_cursor = None
    if len(rows) > query.limit:
        last = page[-1]
        key = (round(last.created_at.timestamp() * 1000), last.public_id)
        next_cursor = encode_cursor(key, secret=secret, context=context)
    return AdminTaskPage(
        items=[_item(task, user.public_id) for task in page], next_cursor=next_cursor
    )


def _item(task: Task, owner: str) -> AdminTaskItem:
    return AdminTaskItem(
        id=task.public_id,
        user_id=owner,
        feature=task.feature_key,
        status=task.status,
        cost=task.cost,
        error_code=task.error_code,
        created_at=task.created_at,
        finished_at=task.finished_at,
    )
