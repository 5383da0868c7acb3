"""The operators' read model of tasks: any user's task with its owner, internal error detail
and steps, and the newest tasks of everyone by id. Read-only SQL; the tasks domain stays the
only writer of `tasks` and the pipeline of `task_steps`. `AdminTaskReads` is the port."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from retouch.admin.schemas import StepAttempts
from retouch.core.db import Row, UnitOfWork
from retouch.core.time import from_db
from retouch.core.units import sql_adapter
from retouch.tasks.records import Task, TaskStatus
from retouch.tasks.rows import TASK_COLUMNS, task_from_row


@dataclass(frozen=True, slots=True)
class OwnedTask:
    """A task, its owner's public id, and what only operators see of it."""

    task: Task
    owner: str
    error_detail: str | None = None
    deadline_at: datetime | None = None


class AdminTaskReads(Protocol):
    def task(self, public_id: str) -> OwnedTask | None: ...

    def steps(self, task_id: int) -> list[StepAttempts]: ...

    def newest(
        self,
        *,
        status: TaskStatus | None,
        feature_key: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[OwnedTask]:
        """Everyone's tasks by id, newest first, of one status or feature if named."""
        ...


# Formatted in: only the column names of TASK_COLUMNS and the index hints of _NEWEST.
_COLUMNS = ", ".join(f"t.{column}" for column in TASK_COLUMNS)
_TASK = (
    f"SELECT {_COLUMNS}, u.public_id AS owner, t.error_detail, t.deadline_at "  # noqa: S608
    "FROM tasks t JOIN users u ON u.id = t.user_id WHERE t.public_id = %s"
)
_STEPS = (
    "SELECT step_index, step, status, provider_key, provider_index, attempt, polls, fallbacks, "
    "error_code, error_detail, started_at, finished_at FROM task_steps "
    "WHERE task_id = %s ORDER BY step_index"
)
# Each filter reads an index ordered by id: the primary key, (status, id) or (feature, id).
_NEWEST = {
    (False, False): ("PRIMARY", "TRUE"),
    (True, False): ("ix_tasks_status", "t.status = %s"),
    (False, True): ("fk_tasks_feature", "t.feature_key = %s"),
    (True, True): ("ix_tasks_status", "t.status = %s AND t.feature_key = %s"),
}


@sql_adapter(AdminTaskReads)
class MySQLAdminTaskReads:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def task(self, public_id: str) -> OwnedTask | None:
        row = self._uow.fetch_one(_TASK, (public_id,))
        if row is None:
            return None
        return OwnedTask(
            task=task_from_row(row),
            owner=row["owner"],
            error_detail=row["error_detail"],
            deadline_at=None if row["deadline_at"] is None else from_db(row["deadline_at"]),
        )

    def steps(self, task_id: int) -> list[StepAttempts]:
        return [_step(row) for row in self._uow.fetch_all(_STEPS, (task_id,))]

    def newest(
        self,
        *,
        status: TaskStatus | None,
        feature_key: str | None,
        before_id: int | None,
        limit: int,
    ) -> list[OwnedTask]:
        params: list[object] = [v for v in (status, feature_key) if v is not None]
        index, where = _NEWEST[(status is not None, feature_key is not None)]
        sql = (
            f"SELECT {_COLUMNS}, u.public_id AS owner FROM tasks t FORCE INDEX ({index}) "  # noqa: S608
            f"JOIN users u ON u.id = t.user_id WHERE {where}"
        )
        if before_id is not None:
            sql += " AND t.id < %s"
            params.append(before_id)
        sql += " ORDER BY t.id DESC LIMIT %s"
        rows = self._uow.fetch_all(sql, (*params, limit))
        return [OwnedTask(task=task_from_row(row), owner=row["owner"]) for row in rows]


def _step(row: Row) -> StepAttempts:
    return StepAttempts(
        index=int(row["step_index"]),
        step=row["step"],
        status=row["status"],
        provider=row["provider_key"],
        provider_index=int(row["provider_index"]),
        attempt=int(row["attempt"]),
        polls=int(row["polls"]),
        fallbacks=json.loads(row["fallbacks"]) if row["fallbacks"] else [],
        error_code=row["error_code"],
        error_detail=row["error_detail"],
        started_at=from_db(row["started_at"]),
        finished_at=None if row["finished_at"] is None else from_db(row["finished_at"]),
    )
