"""SQL of the engine's task transitions. Conditional updates only: each names the statuses it
may leave, and its row count says whether this caller made the change."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from retouch.core.db import UnitOfWork
from retouch.core.time import to_db
from retouch.tasks.schemas import StoredImage


class MySQLPipelineRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def start(self, public_id: str, *, now: datetime) -> bool:
        """`queued` → `running`; False when the task was not queued."""
        return (
            self._uow.execute(
                "UPDATE tasks SET status = 'running', started_at = %s, revision = revision + 1 "
                "WHERE public_id = %s AND status = 'queued'",
                (to_db(now), public_id),
            )
            == 1
        )

    def succeed(self, public_id: str, *, images: Sequence[StoredImage], now: datetime) -> bool:
        """An unfinished task → `succeeded` with its output; False when it had finished."""
        output = json.dumps(
            {"images": [{"key": i.key, "width": i.width, "height": i.height} for i in images]},
            separators=(",", ":"),
        )
        return (
            self._uow.execute(
                "UPDATE tasks SET status = 'succeeded', output = %s, finished_at = %s, "
                "revision = revision + 1 "
                "WHERE public_id = %s AND status IN ('queued', 'running')",
                (output, to_db(now), public_id),
            )
            == 1
        )

    def fail(self, public_id: str, *, code: str, detail: str | None, now: datetime) -> bool:
        """An unfinished task → `failed` with a registry code (and an internal detail)."""
        return (
            self._uow.execute(
                "UPDATE tasks SET status = 'failed', error_code = %s, error_detail = %s, "
                "finished_at = %s, revision = revision + 1 "
                "WHERE public_id = %s AND status IN ('queued', 'running')",
                (code, None if detail is None else detail[:1024], to_db(now), public_id),
            )
            == 1
        )

    def overdue(self, *, now: datetime, limit: int) -> list[str]:
        """Unfinished tasks past their deadline, oldest first (ix_tasks_status_deadline)."""
        rows = self._uow.fetch_all(
            "SELECT public_id FROM tasks WHERE status IN ('queued', 'running') "
            "AND deadline_at < %s ORDER BY deadline_at LIMIT %s",
            (to_db(now), limit),
        )
        return [row["public_id"] for row in rows]
