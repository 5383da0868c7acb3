"""The `prepare` step of the engine."""

from __future__ import annotations

from retouch.catalog.forms import upload_fields
from retouch.catalog.repository import FormRepository
from retouch.pipeline.context import After, StepContext, StepRun, next_message, send
from retouch.pipeline.repository import StepRepository
from retouch.storage import work_key
from retouch.tasks.lifecycle import Outcome, announce_status, end_task
from retouch.tasks.records import Task
from retouch.tasks.repository import TaskRepository
from retouch.uploads.repository import UploadRepository


def run_prepare(context: StepContext, run: StepRun) -> None:
    """`prepare`: the task starts; each upload the inputs name is read, normalised
    (orientation, format, size) and kept under `work/<task>/`; then the next step. An input
    that is not a ready upload of the owner's, or not an image, fails the task."""
    task, now = run.task, context.clock()
    started = False
    with context.database.unit_of_work() as uow:
        steps = uow.repository(StepRepository)
        row = steps.begin(
            task_id=task.id, index=run.index, step="prepare", now=now, deadline_at=None
        )
        after = After()
        if row.status == "running":
            form = uow.repository(FormRepository).get(task.feature_key, task.form_version)
            fields = {} if form is None else upload_fields(form, task.inputs)
            keys = uow.repository(UploadRepository).ready_object_keys(
                user_id=task.user_id, public_ids=sorted(set(fields.values()))
            )
            try:
                prepared = {
                    field: _prepared(context, task, field, keys.get(upload_id))
                    for field, upload_id in fields.items()
                }
            except ValueError as exc:
                detail = f"prepare: {exc}"
                steps.fail(row.id, code="INPUT_UNPROCESSABLE", detail=detail, now=now)
                outcome = Outcome("failed", error_code="INPUT_UNPROCESSABLE", error_detail=detail)
                after.ended = end_task(uow, task, outcome, now=now)
            else:
                started = uow.repository(TaskRepository).start(task.public_id, now=now)
                steps.succeed(row.id, state={"inputs": prepared}, now=now)
                after.sent.append(send(context, uow, next_message(task, run.index, run.steps)))
        uow.commit()
    if started:
        announce_status(context.redis, task.public_id, "running")
    after.run(context)


def _prepared(context: StepContext, task: Task, field: str, key: str | None) -> str:
    if key is None:
        raise ValueError(f"input {field} is not a ready upload of the task's owner")
    data = context.normalize(context.storage.get(key))
    target = work_key(task_id=task.public_id, name=f"in-{field}.png")
    context.storage.put(target, data, "image/png")
    return target
