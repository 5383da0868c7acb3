"""In-memory `TaskRepository` and `StepRepository` (`retouch.tasks.repository`,
`retouch.pipeline.repository`) keeping their SQL adapters' rules: a status change leaves only
the statuses it may leave (start: `queued`; the endings: `queued` or `running`) and says
whether it made the change; ownership and hiding as `get_owned` reads them; one row per step
of a task, created on the first `begin`; a callback event and a re-drive counted once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from retouch.pipeline.repository import StepRow, fresh_step_row
from retouch.pipeline.rows import StepJob
from retouch.tasks.records import ACTIVE, StoredImage, Task, TaskStatus


class FakeTaskRepository:
    def __init__(self) -> None:
        self.tasks: dict[int, Task] = {}
        self.deadlines: dict[int, datetime | None] = {}
        self.error_details: dict[int, str | None] = {}

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
        if self.get_by_public_id(public_id) is not None:
            raise ValueError(f"duplicate task {public_id}")  # uq_tasks_public_id
        task_id = max(self.tasks, default=0) + 1
        self.tasks[task_id] = Task(
            id=task_id,
            public_id=public_id,
            user_id=user_id,
            feature_key=feature_key,
            form_version=form_version,
            pipeline_version=pipeline_version,
            status="queued",
            inputs=dict(inputs),
            images=(),
            error_code=None,
            cost=cost,
            hidden=False,
            revision=0,
            created_at=now,
            started_at=None,
            finished_at=None,
        )
        self.deadlines[task_id] = deadline_at
        return task_id

    def get(self, task_id: int) -> Task | None:
        return self.tasks.get(task_id)

    def get_by_public_id(self, public_id: str) -> Task | None:
        return next((t for t in self.tasks.values() if t.public_id == public_id), None)

    def get_owned(self, public_id: str, *, user_id: int, for_update: bool = False) -> Task | None:
        task = self.get_by_public_id(public_id)
        if task is None or task.user_id != user_id or task.hidden:
            return None
        return task

    def page(
        self,
        *,
        user_id: int,
        status: TaskStatus | None,
        feature_key: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[Task]:
        found = [
            t
            for t in self.tasks.values()
            if t.user_id == user_id
            and not t.hidden
            and (status is None or t.status == status)
            and (feature_key is None or t.feature_key == feature_key)
            and (after is None or (t.created_at, t.public_id) < after)
        ]
        found.sort(key=lambda t: (t.created_at, t.public_id), reverse=True)
        return found[:limit]

    def start(self, public_id: str, *, now: datetime) -> bool:
        return self._move(public_id, ("queued",), status="running", started_at=now)

    def succeed(self, public_id: str, *, images: Sequence[StoredImage], now: datetime) -> bool:
        return self._move(
            public_id, ACTIVE, status="succeeded", images=tuple(images), finished_at=now
        )

    def fail(self, public_id: str, *, code: str, detail: str | None, now: datetime) -> bool:
        task = self.get_by_public_id(public_id)
        moved = self._move(public_id, ACTIVE, status="failed", error_code=code, finished_at=now)
        if moved and task is not None:
            self.error_details[task.id] = None if detail is None else detail[:1024]
        return moved

    def cancel(self, public_id: str, *, now: datetime) -> bool:
        return self._move(public_id, ACTIVE, status="canceled", finished_at=now)

    def hide(self, task_id: int) -> bool:
        task = self.tasks.get(task_id)
        if task is None or task.hidden:
            return False
        self.tasks[task_id] = replace(task, hidden=True, revision=task.revision + 1)
        return True

    def count_unfinished(self, user_id: int) -> int:
        tasks = self.tasks.values()
        return sum(task.user_id == user_id and task.status in ACTIVE for task in tasks)

    def overdue(self, *, now: datetime, limit: int) -> list[str]:
        late = [
            (deadline, t.public_id)
            for t in self.tasks.values()
            if t.status in ACTIVE and (deadline := self.deadlines.get(t.id)) is not None
            if deadline < now
        ]
        return [public_id for _, public_id in sorted(late)[:limit]]

    def _move(self, public_id: str, leaves: Sequence[str], **changes: Any) -> bool:
        task = self.get_by_public_id(public_id)
        if task is None or task.status not in leaves:
            return False
        self.tasks[task.id] = replace(task, revision=task.revision + 1, **changes)
        return True


class FakeStepRepository:
    """`task_of` finds a step's task (for `stale_steps`, which reads only unfinished tasks'
    steps), `task_named` a task by its public id (for `task_with_steps`); a row's last change
    is the latest `now` the fake was given for it."""

    def __init__(
        self,
        task_of: Callable[[int], Task | None] = lambda _: None,
        task_named: Callable[[str], Task | None] = lambda _: None,
    ) -> None:
        self.task_of, self.task_named = task_of, task_named
        self.rows: dict[tuple[int, int], StepRow] = {}
        self.changed_at: dict[int, datetime] = {}
        self.redriven: set[int] = set()
        self.events: dict[tuple[str, str], datetime] = {}
        self.prompted_at: dict[int, datetime] = {}
        self.errors: dict[int, tuple[str, str | None]] = {}

    def begin(
        self, *, task_id: int, index: int, step: str, now: datetime, deadline_at: datetime | None
    ) -> StepRow:
        if (task_id, index) not in self.rows:
            step_id = max(self.changed_at, default=0) + 1  # ids are never reused
            self.rows[(task_id, index)] = fresh_step_row(step_id, task_id, index, step, deadline_at)
            self.changed_at[step_id] = now
        return self.rows[(task_id, index)]

    def get(self, *, task_id: int, index: int) -> StepRow | None:
        return self.rows.get((task_id, index))

    def task_with_steps(self, public_id: str) -> tuple[Task, dict[int, StepRow]] | None:
        task = self.task_named(public_id)
        if task is None:
            return None
        return task, {i: row for (owner, i), row in self.rows.items() if owner == task.id}

    def lock_job(self, *, task_id: int, index: int) -> StepJob | None:
        row = self.rows.get((task_id, index))
        return None if row is None else StepJob(row.status, row.vendor_handle, row.polls)

    def get_many(self, *, task_id: int, indexes: Sequence[int]) -> dict[int, StepRow]:
        return {i: self.rows[(task_id, i)] for i in indexes if (task_id, i) in self.rows}

    def by_handle(self, *, provider_key: str, handle: str) -> StepRow | None:
        return next(
            (
                r
                for r in self.rows.values()
                if r.provider_key == provider_key and r.vendor_handle == handle
            ),
            None,
        )

    def submitted(
        self,
        step_id: int,
        *,
        provider_key: str,
        handle: str,
        now: datetime,
        callback_token_hash: str | None = None,
    ) -> None:
        self._update(
            step_id,
            now,
            status="waiting",
            provider_key=provider_key,
            vendor_handle=handle[:255],
            callback_token_hash=callback_token_hash,
            polls=0,
            submitted_at=now,
        )
        self.prompted_at.pop(step_id, None)

    def polled(self, step_id: int) -> None:
        row = self._row(step_id)
        self._update(step_id, None, polls=row.polls + 1)

    def retry(
        self, step_id: int, *, provider_index: int, attempt: int, fallbacks: list[Any]
    ) -> None:
        self._update(
            step_id,
            None,
            status="running",
            provider_index=provider_index,
            attempt=attempt,
            vendor_handle=None,
            callback_token_hash=None,
            polls=0,
            fallbacks=list(fallbacks),
        )

    def claim_prompt(self, step_id: int, *, now: datetime, since: datetime) -> bool:
        last = self.prompted_at.get(step_id)
        if self._row(step_id).status != "waiting" or (last is not None and last > since):
            return False
        self.prompted_at[step_id] = now  # not a change of the step's (`changed_at` stays)
        return True

    def succeed(self, step_id: int, *, state: dict[str, Any], now: datetime) -> None:
        self._update(step_id, now, status="succeeded", state=dict(state))

    def fail(self, step_id: int, *, code: str, detail: str | None, now: datetime) -> None:
        self._update(step_id, now, status="failed")
        self.errors[step_id] = (code, None if detail is None else detail[:1024])

    def forget(self, step_id: int) -> None:
        row = self._row(step_id)
        del self.rows[(row.task_id, row.step_index)]

    def record_event(self, *, provider_key: str, event_id: str, now: datetime) -> bool:
        event = (provider_key, event_id[:128])
        if event in self.events:
            return False
        self.events[event] = now
        return True

    def purge_events(self, *, before: datetime, limit: int) -> int:
        old = sorted((at, event) for event, at in self.events.items() if at < before)[:limit]
        for _, event in old:
            del self.events[event]
        return len(old)

    def stale_steps(self, *, before: datetime, limit: int) -> list[tuple[int, str, str, int]]:
        stale = []
        for row in self.rows.values():
            task = self.task_of(row.task_id)
            if (
                row.status in ("running", "waiting")
                and self.changed_at[row.id] < before
                and row.id not in self.redriven
                and task is not None
                and task.status in ACTIVE
            ):
                stale.append(
                    (self.changed_at[row.id], row.id, task.public_id, row.step, row.step_index)
                )
        return [(i, t, s, n) for _, i, t, s, n in sorted(stale)[:limit]]

    def mark_redriven(self, step_id: int, *, now: datetime) -> bool:
        if step_id in self.redriven:
            return False
        self.redriven.add(step_id)
        return True

    def _row(self, step_id: int) -> StepRow:
        return next(r for r in self.rows.values() if r.id == step_id)

    def _update(self, step_id: int, now: datetime | None, **changes: Any) -> None:
        row = self._row(step_id)
        self.rows[(row.task_id, row.step_index)] = replace(row, **changes)
        if now is not None:
            self.changed_at[step_id] = now
