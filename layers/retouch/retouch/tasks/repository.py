"""SQL for tasks; nothing here commits. `TaskRepository` is the one
writer of `tasks` (SQL: `MySQLTaskRepository`; in memory: `tests/fakes/tasks`). Status changes
are conditional (`WHERE status IN (...)`), so nothing moves back."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from retouch.core.db import UnitOfWork
from retouch.core.time import to_db
from retouch.core.units import sql_adapter
from retouch.tasks.records import StoredImage, Task, TaskStatus
from retouch.tasks.rows import output_json, task_from_row

_SELECT = (  # the columns of `rows.TASK_COLUMNS`
    "SELECT id, public_id, user_id, feature_key, form_version, pipeline_version, status, "
    "inputs, output, error_code, cost, hidden, revision, created_at, started_at, finished_at "
    "FROM tasks "
)
_OWNED = _SELECT + "WHERE public_id = %s AND user_id = %s AND hidden = FALSE"
# One statement per filter combination, each reading the index that covers it in order.
_PAGE = {
    (False, False): _SELECT + "FORCE INDEX (ix_tasks_user_list) "
    "WHERE user_id = %s AND hidden = FALSE",
    (True, False): _SELECT + "FORCE INDEX (ix_tasks_user_status) "
    "WHERE user_id = %s AND hidden = FALSE AND status = %s",
    (False, True): _SELECT + "FORCE INDEX (ix_tasks_user_feature) "
    "WHERE user_id = %s AND hidden = FALSE AND feature_key = %s",
    (True, True): _SELECT + "FORCE INDEX (ix_tasks_user_status) "
    "WHERE user_id = %s AND hidden = FALSE AND status = %s AND feature_key = %s",
}
# Spelled out rather than as a row comparison, which MariaDB does not turn into a range.
_AFTER = " AND (created_at < %s OR (created_at = %s AND public_id < %s))"
_ORDER = " ORDER BY created_at DESC, public_id DESC LIMIT %s"


class TaskRepository(Protocol):
    """The tasks of every user. The status changes are conditional: each returns whether this
    call made it (False: the task was not in a status it may leave — `start` leaves `queued`,
    the endings leave `queued` or `running`)."""

    def add(
        self,
        *,
        public_id: str,
        user_id: int,
        feature_key: str,
        form_version: int,
        pipeline_version: int,
        inputs: dict[str, Any],
        cost: int,
        now: datetime,
        deadline_at: datetime | None,
    ) -> int:
        """Insert a `queued` task; returns its internal id."""

    def get(self, task_id: int) -> Task | None: ...

    def get_by_public_id(self, public_id: str) -> Task | None: ...

    def get_owned(self, public_id: str, *, user_id: int, for_update: bool = False) -> Task | None:
        """The caller's visible task; None for anyone else's, a hidden one or none."""

    def page(
        self,
        *,
        user_id: int,
        status: TaskStatus | None,
        feature_key: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Task]:
        """A user's visible tasks, newest first, after the keyset position `after`."""

    def start(self, public_id: str, *, now: datetime) -> bool:
        """`queued` → `running`."""

    def succeed(self, public_id: str, *, images: Sequence[StoredImage], now: datetime) -> bool:
        """Unfinished → `succeeded` with its output."""

    def fail(self, public_id: str, *, code: str, detail: str | None, now: datetime) -> bool:
        """Unfinished → `failed` with a registry code (and an internal detail)."""

    def cancel(self, public_id: str, *, now: datetime) -> bool:
        """Unfinished → `canceled`."""

    def hide(self, task_id: int) -> bool:
        """Hide a task from its owner for good (DELETE); False when already hidden."""

    def overdue(self, *, now: datetime, limit: int) -> list[str]:
        """Public ids of unfinished tasks past their deadline, oldest deadline first."""

    def count_unfinished(self, user_id: int) -> int:
        """How many of the user's tasks are queued or running."""


@sql_adapter(TaskRepository)
class MySQLTaskRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(
        self,
        *,
        public_id: str,
        user_id: int,
        feature_key: str,
        form_version: int,
        pipeline_version: int,
        inputs: dict[str, Any],
        cost: int,
        now: datetime,
        deadline_at: datetime | None,
    ) -> int:
        self._uow.execute(
            "INSERT INTO tasks (public_id, user_id, feature_key, form_version, "
            "pipeline_version, inputs, cost, created_at, deadline_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                public_id,
                user_id,
                feature_key,
                form_version,
                pipeline_version,
                json.dumps(inputs, separators=(",", ":"), ensure_ascii=False),
                cost,
                to_db(now),
                None if deadline_at is None else to_db(deadline_at),
            ),
        )
        return self._uow.last_insert_id()

    def get(self, task_id: int) -> Task | None:
        row = self._uow.fetch_one(_SELECT + "WHERE id = %s", (task_id,))
        return None if row is None else task_from_row(row)

    def get_by_public_id(self, public_id: str) -> Task | None:
        row = self._uow.fetch_one(_SELECT + "WHERE public_id = %s", (public_id,))
        return None if row is None else task_from_row(row)

    def get_owned(self, public_id: str, *, user_id: int, for_update: bool = False) -> Task | None:
        sql = _OWNED + (" FOR UPDATE" if for_update else "")
        row = self._uow.fetch_one(sql, (public_id, user_id))
        return None if row is None else task_from_row(row)

    def page(
        self,
        *,
        user_id: int,
        status: TaskStatus | None,
        feature_key: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Task]:
        params: list[Any] = [user_id]
        if status is not None:
            params.append(status)
        if feature_key is not None:
            params.append(feature_key)
        sql = _PAGE[(status is not None, feature_key is not None)]
        if after is not None:
            sql += _AFTER
            params.extend((to_db(after[0]), to_db(after[0]), after[1]))
        params.append(limit)
        return [task_from_row(row) for row in self._uow.fetch_all(sql + _ORDER, tuple(params))]

    def start(self, public_id: str, *, now: datetime) -> bool:
        return self._changed(
            "UPDATE tasks SET status = 'running', started_at = %s, revision = revision + 1 "
            "WHERE public_id = %s AND status = 'queued'",
            (to_db(now), public_id),
        )

    def succeed(self, public_id: str, *, images: Sequence[StoredImage], now: datetime) -> bool:
        return self._changed(
            "UPDATE tasks SET status = 'succeeded', output = %s, finished_at = %s, "
            "revision = revision + 1 WHERE public_id = %s AND status IN ('queued', 'running')",
            (output_json(images), to_db(now), public_id),
        )

    def fail(self, public_id: str, *, code: str, detail: str | None, now: datetime) -> bool:
        return self._changed(
            "UPDATE tasks SET status = 'failed', error_code = %s, error_detail = %s, "
            "finished_at = %s, revision = revision + 1 "
            "WHERE public_id = %s AND status IN ('queued', 'running')",
            (code, None if detail is None else detail[:1024], to_db(now), public_id),
        )

    def cancel(self, public_id: str, *, now: datetime) -> bool:
        return self._changed(
            "UPDATE tasks SET status = 'canceled', finished_at = %s, revision = revision + 1 "
            "WHERE public_id = %s AND status IN ('queued', 'running')",
            (to_db(now), public_id),
        )

    def hide(self, task_id: int) -> bool:
        return self._changed(
            "UPDATE tasks SET hidden = TRUE, revision = revision + 1 "
            "WHERE id = %s AND hidden = FALSE",
            (task_id,),
        )

    def overdue(self, *, now: datetime, limit: int) -> list[str]:
        rows = self._uow.fetch_all(  # ix_tasks_status_deadline
            "SELECT public_id FROM tasks WHERE status IN ('queued', 'running') "
            "AND deadline_at < %s ORDER BY deadline_at LIMIT %s",
            (to_db(now), limit),
        )
        return [row["public_id"] for row in rows]

    def count_unfinished(self, user_id: int) -> int:
        row = self._uow.fetch_one(  # ix_tasks_user_status
            "SELECT COUNT(*) AS n FROM tasks WHERE user_id = %s AND hidden IN (0, 1) "
            "AND status IN ('queued', 'running')",
            (user_id,),
        )
        return 0 if row is None else int(row["n"])

    def _changed(self, sql: str, params: tuple[object, ...]) -> bool:
        return self._uow.execute(sql, params) == 1
