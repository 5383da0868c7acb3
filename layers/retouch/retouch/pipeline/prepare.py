"""The `prepare` step of the engine."""

from __future__ import annotations

from collections.abc import Sequence

from retouch.catalog.forms import upload_fields
from retouch.catalog.repository import MySQLFormRepository
from retouch.catalog.schemas import PipelineStep
from retouch.core.db import UnitOfWork
from retouch.notify import publish_task_event
from retouch.pipeline.context import StepContext
from retouch.pipeline.repository import MySQLPipelineRepository as TaskTransitions
from retouch.pipeline.repository import MySQLStepRepository
from retouch.storage import work_key
from retouch.tasks.records import Task


class PrepareStep(StepContext):
    """`prepare`: each upload the inputs name is read, normalised (orientation, format,
    size) and kept under `work/<task>/`; then the next step."""

    def _prepare(self, task: Task, index: int, steps: Sequence[PipelineStep]) -> None:
        now = self.clock()
        with self.database.unit_of_work() as uow:
            row = MySQLStepRepository(uow).begin(
                task_id=task.id, index=index, step="prepare", now=now, deadline_at=None
            )
            if row.status != "running":
                uow.commit()
                return
            started = TaskTransitions(uow).start(task.public_id, now=now)
            form = MySQLFormRepository(uow).get(task.feature_key, task.form_version)
            fields = {} if form is None else upload_fields(form, task.inputs)
            keys = _upload_keys(uow, task, fields)
            try:
                prepared = {field: self._prepared(task, field, key) for field, key in keys.items()}
            except ValueError as exc:
                uow.rollback()
                self._fail(task, code="INPUT_UNPROCESSABLE", detail=f"prepare: {exc}")
                return
            MySQLStepRepository(uow).succeed(row.id, state={"inputs": prepared}, now=now)
            sent = self._send(uow, self._next(task, index, steps))
            uow.commit()
        if started:
            publish_task_event(
                self.redis, task.public_id, {"id": task.public_id, "status": "running"}
            )
        self._publish([sent])

    def _prepared(self, task: Task, field: str, key: str | None) -> str:
        if key is None:
            raise ValueError(f"input {field} is not a ready upload of the task's owner")
        data = self.normalize(self.storage.get(key))
        target = work_key(task_id=task.public_id, name=f"in-{field}.png")
        self.storage.put(target, data, "image/png")
        return target


def _upload_keys(uow: UnitOfWork, task: Task, fields: dict[str, str]) -> dict[str, str | None]:
    """The object keys of the uploads the inputs name (still ready and the owner's)."""
    if not fields:
        return {}
    rows = uow.fetch_all(
        "SELECT public_id, object_key FROM uploads WHERE user_id = %s AND status = 'ready' "
        "AND public_id IN %s",
        (task.user_id, tuple(sorted(set(fields.values())))),
    )
    keys = {row["public_id"]: row["object_key"] for row in rows}
    return {field: keys.get(upload_id) for field, upload_id in fields.items()}
