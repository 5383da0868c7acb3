"""The `prepare` step of the engine."""

from __future__ import annotations

from datetime import datetime

from retouch.catalog.forms import upload_fields
from retouch.core.logging import logger
from retouch.core.settings import get_settings
from retouch.core.units import Transaction
from retouch.images.inspection import NotAnImage, inspect_within
from retouch.pipeline.context import After, StepContext, StepRun, next_message, send
from retouch.pipeline.repository import StepRepository
from retouch.storage import work_key
from retouch.tasks.lifecycle import Ended, Outcome, end_task
from retouch.tasks.records import Task
from retouch.tasks.repository import TaskRepository
from retouch.uploads.integrity import UploadChanged, read_inspected
from retouch.uploads.records import Upload
from retouch.uploads.repository import UploadRepository


def run_prepare(context: StepContext, run: StepRun) -> None:
    """`prepare`: the task starts; each upload the inputs name is read (only the bytes the
    upload trigger inspected), its header checked against the pixel cap, normalised
    (orientation, format, size) and kept under `work/<task>/`; then the next step. An input
    that is not a ready upload of the owner's, not those bytes, or not an image within the
    cap fails the task (INPUT_UNPROCESSABLE, credits returned) before anything decodes it."""
    task, now, uow = run.task, context.clock(), run.uow
    # The task starts first: its row's lock, taken before the step's row is inserted, queues
    # a second delivery here. Inserted first, that insert's foreign-key check held a shared
    # lock on the task's row while it waited for the first delivery's step row, and the
    # first's start then waited on the second: a deadlock, one delivery rolled back.
    started = uow.repository(TaskRepository).start(task.public_id, now=now)
    steps = uow.repository(StepRepository)
    row = steps.begin(task_id=task.id, index=run.index, step="prepare", now=now, deadline_at=None)
    after = After()
    if row.status == "running":
        form = context.versions.form(uow, task.feature_key, task.form_version)
        fields = {} if form is None else upload_fields(form, task.inputs)
        uploads = uow.repository(UploadRepository).ready_uploads(
            user_id=task.user_id, public_ids=sorted(set(fields.values()))
        )
        try:
            prepared = {
                field: _prepared(context, task, field, uploads.get(upload_id))
                for field, upload_id in fields.items()
            }
        except ValueError as exc:
            after.ended = _refused(uow, row.id, task, exc, now=now)
        else:
            steps.succeed(row.id, state={"inputs": prepared}, now=now)
            after.sent.append(send(context, uow, next_message(task, run.index, run.steps)))
    uow.commit()
    if started and after.ended is None:
        after.started = task.public_id
    after.run(context)


def _prepared(context: StepContext, task: Task, field: str, upload: Upload | None) -> str:
    if upload is None:
        raise ValueError(f"input {field} is not a ready upload of the task's owner")
    data = read_inspected(context.storage, upload)
    try:
        inspect_within(data, max_pixels=get_settings().upload_max_pixels)
    except NotAnImage as exc:
        raise ValueError(f"input {field}: {exc}") from None
    target = work_key(task_id=task.public_id, name=f"in-{field}.png")
    context.storage.put(target, context.normalize(data), "image/png")
    return target


def _refused(
    uow: Transaction, row_id: int, task: Task, exc: ValueError, *, now: datetime
) -> Ended | None:
    """The task fails with INPUT_UNPROCESSABLE (its credits returned); an upload whose object
    changed since it was inspected is rejected as well, so no later task can name it."""
    if isinstance(exc, UploadChanged):
        uow.repository(UploadRepository).mark_changed(exc.upload.id)
        logger.warning(
            "upload changed after inspection",
            extra={"upload": exc.upload.public_id, "task": task.public_id},
        )
    detail = f"prepare: {exc}"
    uow.repository(StepRepository).fail(row_id, code="INPUT_UNPROCESSABLE", detail=detail, now=now)
    outcome = Outcome("failed", error_code="INPUT_UNPROCESSABLE", error_detail=detail)
    return end_task(uow, task, outcome, now=now)
