"""SQL for tasks. Parameterised statements only; nothing here commits. Status changes are
conditional (`WHERE status IN (...)`), so nothing moves back."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from retouch.auth.attachments import CallerAttachment
from retouch.core.db import Row, UnitOfWork
from retouch.core.time import from_db, to_db
from retouch.tasks.records import StoredImage, Task, TaskStatus

_SELECT = (
    "SELECT id, public_id, user_id, feature_key, form_version, pipeline_version, status, "
    "inputs, output, error_code, cost, hidden, revision, created_at, started_at, finished_at "
    "FROM tasks "
)
_BY_PUBLIC_ID = _SELECT + "WHERE public_id = %s"
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


def _optional(value: datetime | None) -> datetime | None:
    return None if value is None else from_db(value)


def _images(output: str | None) -> tuple[StoredImage, ...]:
    if not output:
        return ()
    return tuple(
        StoredImage(key=str(image["key"]), width=int(image["width"]), height=int(image["height"]))
        for image in json.loads(output).get("images", [])
    )


# The caller's visible task, read in the caller's statement (`CallerAttachment`): the route
# that reads one task pays one round trip for the caller and the task. `tk_`-prefixed columns.
_ATTACHED_COLUMNS = (
    "tk.id AS tk_id, tk.public_id AS tk_public_id, tk.user_id AS tk_user_id, "
    "tk.feature_key AS tk_feature_key, tk.form_version AS tk_form_version, "
    "tk.pipeline_version AS tk_pipeline_version, tk.status AS tk_status, "
    "tk.inputs AS tk_inputs, tk.output AS tk_output, tk.error_code AS tk_error_code, "
    "tk.cost AS tk_cost, tk.hidden AS tk_hidden, tk.revision AS tk_revision, "
    "tk.created_at AS tk_created_at, tk.started_at AS tk_started_at, "
    "tk.finished_at AS tk_finished_at"
)
_ATTACHED_JOIN = (
    "LEFT JOIN tasks tk ON tk.public_id = %s AND tk.user_id = u.id AND tk.hidden = FALSE"
)
_PREFIX = "tk_"


def owned_task_attachment(public_id: str) -> CallerAttachment:
    """Attach the caller's visible task `public_id` to the caller read."""
    return CallerAttachment(columns=_ATTACHED_COLUMNS, join=_ATTACHED_JOIN, params=(public_id,))


def attached_task(row: Row) -> Task | None:
    """The task an `owned_task_attachment` read; None for anyone else's, hidden or none."""
    if row.get(_PREFIX + "id") is None:
        return None
    return task_from_row(
        {name[len(_PREFIX) :]: value for name, value in row.items() if name.startswith(_PREFIX)}
    )


def task_from_row(row: Row) -> Task:
    return Task(
        id=int(row["id"]),
        public_id=row["public_id"],
        user_id=int(row["user_id"]),
        feature_key=row["feature_key"],
        form_version=int(row["form_version"]),
        pipeline_version=int(row["pipeline_version"]),
        status=row["status"],
        inputs=json.loads(row["inputs"]),
        images=_images(row["output"]),
        error_code=row["error_code"],
        cost=int(row["cost"]),
        hidden=bool(row["hidden"]),
        revision=int(row["revision"]),
        created_at=from_db(row["created_at"]),
        started_at=_optional(row["started_at"]),
        finished_at=_optional(row["finished_at"]),
    )


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
        """Insert a `queued` task; returns its internal id."""
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
        row = self._uow.fetch_one(_BY_PUBLIC_ID, (public_id,))
        return None if row is None else task_from_row(row)

    def get_owned(self, public_id: str, *, user_id: int, for_update: bool = False) -> Task | None:
        """The caller's visible task; None for anyone else's, a hidden one or none."""
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
        """A user's visible tasks, newest first, after the keyset position `after`."""
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

    def cancel(self, task_id: int, *, now: datetime) -> bool:
        """`queued`/`running` → `canceled`; False when it had already finished."""
        return (
            self._uow.execute(
                "UPDATE tasks SET status = 'canceled', "
                "finished_at = %s, revision = revision + 1 "
                "WHERE id = %s AND status IN ('queued', 'running')",
                (to_db(now), task_id),
            )
            == 1
        )

    def hide(self, task_id: int) -> bool:
        """Hide a task from its owner for good (DELETE); False when already hidden."""
        return (
            self._uow.execute(
                "UPDATE tasks SET hidden = TRUE, revision = revision + 1 "
                "WHERE id = %s AND hidden = FALSE",
                (task_id,),
            )
            == 1
        )
