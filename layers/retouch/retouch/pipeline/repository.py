"""SQL of the engine's steps (`task_steps`) and of the provider callbacks' replay guard
(`provider_events`, purged by the reaper); nothing here commits. `StepRepository` is the port (SQL:
`MySQLStepRepository`; in memory: `tests/fakes/tasks.FakeStepRepository`). The task's own
row is the tasks domain's (`retouch.tasks.repository.TaskRepository`)."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from retouch.core.db import UnitOfWork
from retouch.core.time import to_db, to_millis
from retouch.core.units import sql_adapter
from retouch.pipeline.rows import StepJob, StepRow, fresh_step_row, step_from_row

if TYPE_CHECKING:
    from retouch.tasks.records import Task

__all__ = ["MySQLStepRepository", "StepRepository", "StepRow", "fresh_step_row"]


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_STEP_NAMES = (
    *("id", "task_id", "step_index", "step", "status", "provider_index", "provider_key"),
    *("attempt", "vendor_handle", "polls", "deadline_at", "submitted_at", "state", "fallbacks"),
    "callback_token_hash",
)
_STEP_COLUMNS = f"SELECT {', '.join(_STEP_NAMES)} FROM task_steps "  # noqa: S608 - constants


class StepRepository(Protocol):
    """Where each step of each task stands. `begin` creates a step's row on its first delivery
    and locks it on every later one, so two deliveries of one step never run it at once."""

    def begin(
        self, *, task_id: int, index: int, step: str, now: datetime, deadline_at: datetime | None
    ) -> StepRow:
        """The step's row, created `running` if this is its first delivery, locked."""

    def lock_job(self, *, task_id: int, index: int) -> StepJob | None:
        """The step's status, vendor handle and polls, its row locked (None: no such row)."""

    def task_with_steps(self, public_id: str) -> tuple[Task, dict[int, StepRow]] | None:
        """The task `public_id` names (None: no such task) and the rows of its steps that
        exist, by index: one statement, no lock (the engine's first read of a message)."""

    def get(self, *, task_id: int, index: int) -> StepRow | None: ...

    def get_many(self, *, task_id: int, indexes: Sequence[int]) -> dict[int, StepRow]:
        """The task's rows of the steps at `indexes` that exist, by index (one statement)."""

    def by_handle(self, *, provider_key: str, handle: str) -> StepRow | None: ...

    def submitted(
        self,
        step_id: int,
        *,
        provider_key: str,
        handle: str,
        now: datetime,
        callback_token_hash: str | None = None,
    ) -> None:
        """A vendor job runs for the step (`waiting`): its handle, kept before anything else,
        and the digest of the token its callback URL carries (None: it was given none)."""

    def polled(self, step_id: int) -> None: ...

    def retry(
        self, step_id: int, *, provider_index: int, attempt: int, fallbacks: list[Any]
    ) -> None:
        """Back to `running` for another attempt (or the next provider), handle forgotten."""

    def claim_prompt(self, step_id: int, *, now: datetime, since: datetime) -> bool:
        """Whether a callback may prompt the waiting step now: True (and `now` kept) unless
        one did after `since`; False too when the step no longer waits."""

    def succeed(self, step_id: int, *, state: dict[str, Any], now: datetime) -> None: ...

    def fail(self, step_id: int, *, code: str, detail: str | None, now: datetime) -> None: ...

    def forget(self, step_id: int) -> None:
        """Drop a step's row (its step will run afresh)."""

    def record_event(self, *, provider_key: str, event_id: str, now: datetime) -> bool:
        """Remember a provider callback event; False when it was seen before (a replay)."""

    def purge_events(self, *, before: datetime, limit: int) -> int:
        """Forget up to `limit` callback events received before `before`; how many."""

    def stale_steps(self, *, before: datetime, limit: int) -> list[tuple[int, str, str, int]]:
        """Unfinished steps of unfinished tasks untouched since `before`, never re-driven:
        (step id, task public id, step kind, step index)."""

    def mark_redriven(self, step_id: int, *, now: datetime) -> bool:
        """Claim the one re-drive of a step; False when another reaper run had it."""


@sql_adapter(StepRepository)
class MySQLStepRepository:
    """`task_steps`. A step row is created on the first delivery of its first message and
    locked (`FOR UPDATE`) by every later one, so two deliveries of one step never run it at
    the same time: the second waits, then finds what the first did."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def begin(
        self, *, task_id: int, index: int, step: str, now: datetime, deadline_at: datetime | None
    ) -> StepRow:
        """The step's row, created `running` if this is its first delivery, locked. On the
        first delivery the insert itself holds the new row's lock and the row holds nothing
        but what it was given and the table's defaults, so it is not read back."""
        deadline = None if deadline_at is None else to_millis(deadline_at)
        inserted = self._uow.execute(
            "INSERT IGNORE INTO task_steps (task_id, step_index, step, deadline_at, started_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            (task_id, index, step, None if deadline is None else to_db(deadline), to_db(now)),
        )
        if inserted == 1:
            return fresh_step_row(self._uow.last_insert_id(), task_id, index, step, deadline)
        row = self._uow.fetch_one(
            _STEP_COLUMNS + "WHERE task_id = %s AND step_index = %s FOR UPDATE", (task_id, index)
        )
        if row is None:  # pragma: no cover - the insert above guarantees it
            raise RuntimeError("task step vanished")
        return step_from_row(row)

    def lock_job(self, *, task_id: int, index: int) -> StepJob | None:
        row = self._uow.fetch_one(
            "SELECT status, vendor_handle, polls FROM task_steps "
            "WHERE task_id = %s AND step_index = %s FOR UPDATE",
            (task_id, index),
        )
        return None if row is None else StepJob(row["status"], row["vendor_handle"], row["polls"])

    def task_with_steps(self, public_id: str) -> tuple[Task, dict[int, StepRow]] | None:
        """Two JSON documents a row: the task's columns, and one step's row (NULL without
        one), a row per step (`tasks LEFT JOIN task_steps` on uq_task_steps_index's prefix).
        pymysql parses every column's descriptor in Python, which made the 31 columns side
        by side the engine's costliest read; one document with the steps aggregated
        (`JSON_ARRAYAGG`) cost the server three times what it saved the client."""
        from retouch.tasks.rows import task_from_row  # the engine's path: the jobs never ask

        rows = self._uow.fetch_all(_task_with_steps_sql(), (public_id,))
        if not rows:
            return None
        steps = (step_from_row(json.loads(row["step"])) for row in rows if row["step"])
        return task_from_row(json.loads(rows[0]["task"])), {s.step_index: s for s in steps}

    def get(self, *, task_id: int, index: int) -> StepRow | None:
        row = self._uow.fetch_one(
            _STEP_COLUMNS + "WHERE task_id = %s AND step_index = %s", (task_id, index)
        )
        return None if row is None else step_from_row(row)

    def get_many(self, *, task_id: int, indexes: Sequence[int]) -> dict[int, StepRow]:
        if not indexes:
            return {}
        rows = self._uow.fetch_all(
            _STEP_COLUMNS + "WHERE task_id = %s AND step_index IN %s", (task_id, tuple(indexes))
        )
        return {int(row["step_index"]): step_from_row(row) for row in rows}

    def by_handle(self, *, provider_key: str, handle: str) -> StepRow | None:
        row = self._uow.fetch_one(
            _STEP_COLUMNS + "WHERE provider_key = %s AND vendor_handle = %s",
            (provider_key, handle),
        )
        return None if row is None else step_from_row(row)

    def submitted(
        self,
        step_id: int,
        *,
        provider_key: str,
        handle: str,
        now: datetime,
        callback_token_hash: str | None = None,
    ) -> None:
        """The vendor accepted the job: its handle, saved before anything else happens."""
        self._uow.execute(
            "UPDATE task_steps SET status = 'waiting', provider_key = %s, vendor_handle = %s, "
            "callback_token_hash = %s, polls = 0, submitted_at = %s, prompted_at = NULL "
            "WHERE id = %s",
            (provider_key, handle[:255], callback_token_hash, to_db(now), step_id),
        )

    def polled(self, step_id: int) -> None:
        self._uow.execute("UPDATE task_steps SET polls = polls + 1 WHERE id = %s", (step_id,))

    def retry(
        self, step_id: int, *, provider_index: int, attempt: int, fallbacks: list[Any]
    ) -> None:
        """Back to `running` for another attempt (or the next provider), handle forgotten."""
        self._uow.execute(
            "UPDATE task_steps SET status = 'running', provider_index = %s, attempt = %s, "
            "vendor_handle = NULL, callback_token_hash = NULL, polls = 0, fallbacks = %s "
            "WHERE id = %s",
            (provider_index, attempt, _json(fallbacks), step_id),
        )

    def claim_prompt(self, step_id: int, *, now: datetime, since: datetime) -> bool:
        """One prompt per window, decided by the row itself (no Redis: an outage of it cannot
        open the gate). `updated_at` is left alone: a prompt is not the step's progress, and
        the reaper must still see a step whose own polls stopped."""
        return (
            self._uow.execute(
                "UPDATE task_steps SET prompted_at = %s, updated_at = updated_at "
                "WHERE id = %s AND status = 'waiting' "
                "AND (prompted_at IS NULL OR prompted_at <= %s)",
                (to_db(now), step_id, to_db(since)),
            )
            == 1
        )

    def succeed(self, step_id: int, *, state: dict[str, Any], now: datetime) -> None:
        self._uow.execute(
            "UPDATE task_steps SET status = 'succeeded', state = %s, finished_at = %s "
            "WHERE id = %s",
            (_json(state), to_db(now), step_id),
        )

    def fail(self, step_id: int, *, code: str, detail: str | None, now: datetime) -> None:
        self._uow.execute(
            "UPDATE task_steps SET status = 'failed', error_code = %s, error_detail = %s, "
            "finished_at = %s WHERE id = %s",
            (code, None if detail is None else detail[:1024], to_db(now), step_id),
        )

    def forget(self, step_id: int) -> None:
        """Drop a step's row (a `store` whose input proved garbage: the next provider's result
        will be stored afresh)."""
        self._uow.execute("DELETE FROM task_steps WHERE id = %s", (step_id,))

    def record_event(self, *, provider_key: str, event_id: str, now: datetime) -> bool:
        """Remember a provider callback event; False when it was seen before (a replay)."""
        return (
            self._uow.execute(
                "INSERT IGNORE INTO provider_events (provider_key, event_id, received_at) "
                "VALUES (%s, %s, %s)",
                (provider_key, event_id[:128], to_db(now)),
            )
            == 1
        )

    def purge_events(self, *, before: datetime, limit: int) -> int:
        # ix_provider_events_received: the oldest first, one bounded batch per call.
        return self._uow.execute(
            "DELETE FROM provider_events WHERE received_at < %s ORDER BY received_at LIMIT %s",
            (to_db(before), limit),
        )

    def stale_steps(self, *, before: datetime, limit: int) -> list[tuple[int, str, str, int]]:
        """Unfinished steps of unfinished tasks untouched since `before` and never re-driven:
        (step id, task public id, step kind, step index)."""
        rows = self._uow.fetch_all(
            "SELECT s.id, t.public_id, s.step, s.step_index FROM task_steps s "
            "JOIN tasks t ON t.id = s.task_id "
            "WHERE s.status IN ('running', 'waiting') AND s.updated_at < %s "
            "AND s.redriven_at IS NULL AND t.status IN ('queued', 'running') "
            "ORDER BY s.updated_at LIMIT %s",
            (to_db(before), limit),
        )
        return [(int(r["id"]), r["public_id"], r["step"], int(r["step_index"])) for r in rows]

    def mark_redriven(self, step_id: int, *, now: datetime) -> bool:
        """Claim the one re-drive of a step; False when another reaper run had it."""
        return (
            self._uow.execute(
                "UPDATE task_steps SET redriven_at = %s WHERE id = %s AND redriven_at IS NULL",
                (to_db(now), step_id),
            )
            == 1
        )


@functools.cache
def _task_with_steps_sql() -> str:
    from retouch.tasks.rows import TASK_COLUMNS

    return " ".join(
        (
            "SELECT JSON_OBJECT(",
            ", ".join(f"'{name}', t.{name}" for name in TASK_COLUMNS),
            ") AS task, IF(s.id IS NULL, NULL, JSON_OBJECT(",
            ", ".join(f"'{name}', s.{name}" for name in _STEP_NAMES),
            ")) AS step FROM tasks t LEFT JOIN task_steps s ON s.task_id = t.id",
            "WHERE t.public_id = %s",
        )
    )
