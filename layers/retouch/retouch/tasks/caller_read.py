"""The caller + task read of `GET /v1/tasks/{id}`: the caller's visible task, read in the
statement that looks the caller up (`caller.attachments.AttachedRead`), so the route pays one
round trip for both. The tasks domain owns this SQL; auth only runs it."""

from __future__ import annotations

from dataclasses import dataclass

from retouch.core.db import Row
from retouch.tasks.records import Task, is_task_id
from retouch.tasks.rows import TASK_COLUMNS, task_from_row

_PREFIX = "tk_"
_COLUMNS = ", ".join(f"tk.{name} AS {_PREFIX}{name}" for name in TASK_COLUMNS)
_JOIN = "LEFT JOIN tasks tk ON tk.public_id = %s AND tk.user_id = u.id AND tk.hidden = FALSE"


@dataclass(frozen=True, slots=True)
class OwnedTaskRead:
    """The caller's visible task `public_id` (anyone else's, hidden or none: None)."""

    public_id: str

    def columns(self) -> str:
        return _COLUMNS

    def join(self) -> str:
        return _JOIN

    def params(self) -> tuple[object, ...]:
        return (self.public_id,)

    def parse(self, row: Row) -> Task | None:
        if row.get(_PREFIX + "id") is None:
            return None
        return task_from_row({name: row[_PREFIX + name] for name in TASK_COLUMNS})


def owned_task_read(task_id: str) -> OwnedTaskRead | None:
    """The read of the caller's task `task_id` (None for a malformed id: nothing to read)."""
    return OwnedTaskRead(task_id) if is_task_id(task_id) else None
