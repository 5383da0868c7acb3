"""Task use cases: create (idempotent, credits reserved, first step in the outbox), read,
list, cancel and delete. Every use case checks ownership: another user's task is absent."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from retouch.auth.attachments import CallerAttachment
from retouch.catalog.forms import upload_fields, validate_inputs
from retouch.catalog.repository import (
    MySQLFeatureRepository,
    MySQLFormRepository,
    MySQLPipelineRepository,
)
from retouch.catalog.schemas import FeatureRead, FormSchema
from retouch.core.db import Database, Row, UnitOfWork
from retouch.core.errors import REGISTRY, FieldError, ValidationFailed
from retouch.core.identity import Principal
from retouch.core.ids import new_public_id
from retouch.core.logging import logger
from retouch.core.pagination import InvalidCursor, decode_cursor, encode_cursor
from retouch.core.redis import RedisClient
from retouch.core.security import derived_key
from retouch.core.settings import Settings
from retouch.core.time import Clock, to_millis, utc_now
from retouch.idempotency import IdempotencyKey, KeyClaim, complete, run_once
from retouch.notify import publish_task_event
from retouch.pipeline.messages import step_queue
from retouch.queue.outbox import OutboxMessage, enqueue_in, publish_committed
from retouch.queue.port import QueuePort
from retouch.quota.reservations import refund_in, reserve_in
from retouch.storage import Storage
from retouch.tasks.errors import (
    FeatureUnavailable,
    TaskNotCancelable,
    TaskNotFound,
    UploadsUnusable,
)
from retouch.tasks.metrics import count_finished
from retouch.tasks.repository import (
    MySQLTaskRepository,
    attached_task,
    owned_task_attachment,
)
from retouch.tasks.schemas import (
    ACTIVE,
    MAX_PAGE_SIZE,
    OutputImage,
    Task,
    TaskCreate,
    TaskError,
    TaskOutput,
    TaskPage,
    TaskRead,
    TaskStatus,
)
from retouch.uploads.repository import MySQLUploadRepository

_TASK_ID = re.compile(r"tsk_[A-Za-z0-9_-]{22}")
#: The Idempotency-Key scope of `POST /v1/tasks` (rows from before migration 0011 have it).
CREATE_OPERATION = "tasks_create"


# --- create ------------------------------------------------------------------------------


def create_task(
    *,
    database: Database,
    queue: QueuePort,
    settings: Settings,
    principal: Principal,
    request: TaskCreate,
    idempotency_key: str | None,
    language: str,
    clock: Clock = utc_now,
) -> TaskRead:
    """Create a `queued` task: inputs valid for the feature's current form, every upload
    named ready and the caller's, credits reserved, the first step message in the outbox,
    all in one transaction; then publish the message.

    With an `Idempotency-Key` the same key and body answer the first response again, the
    key while its first request runs is IdempotencyKeyInUse (409), and the key with another
    body is IdempotencyKeyReused (422)."""

    def create(claim: KeyClaim | None) -> TaskRead:
        task, message = _create(
            database,
            settings=settings,
            principal=principal,
            request=request,
            claim=claim,
            language=language,
            now=to_millis(clock()),
        )
        publish_committed(database=database, queue=queue, messages=[message], clock=clock)
        logger.info("task created", extra={"task": task.id, "feature": task.feature})
        return task

    key = None
    if idempotency_key is not None:
        key = IdempotencyKey(
            user_id=principal.user.id, operation=CREATE_OPERATION, value=idempotency_key
        )
    return run_once(
        database=database,
        settings=settings,
        key=key,
        body=request.model_dump(mode="json"),
        run=create,
        replay=TaskRead.model_validate_json,
        clock=clock,
    )


def _create(
    database: Database,
    *,
    settings: Settings,
    principal: Principal,
    request: TaskCreate,
    claim: KeyClaim | None,
    language: str,
    now: datetime,
) -> tuple[TaskRead, OutboxMessage]:
    user_id = principal.user.id
    with database.unit_of_work() as uow:
        feature, form, first_step = _usable_feature(uow, request.feature, principal)
        inputs = validate_inputs(form=form, inputs=request.inputs, language=language)
        _check_uploads(uow, user_id=user_id, form=form, inputs=inputs)
        public_id = new_public_id("tsk")
        if feature.cost > 0:
            reserve_in(uow=uow, user_id=user_id, amount=feature.cost, task_ref=public_id)
        MySQLTaskRepository(uow).add(
            public_id=public_id,
            user_id=user_id,
            feature_key=feature.key,
            form_version=form.version,
            pipeline_version=feature.pipeline_version or 0,
            inputs=inputs,
            cost=feature.cost,
            now=now,
            deadline_at=now + timedelta(seconds=settings.task_deadline_s),
        )
        message = enqueue_in(
            uow,
            step_queue(first_step),
            {"task_id": public_id, "step": first_step, "attempt": 1},
            clock=lambda: now,
        )
        created = TaskRead(
            id=public_id,
            feature=feature.key,
            status="queued",
            inputs=inputs,
            output=None,
            error=None,
            cost=feature.cost,
            created_at=now,
            started_at=None,
            finished_at=None,
        )
        # Our lease may have run out and another request taken the key over: then that one
        # creates the task, and `complete` refuses ours (IdempotencyKeyInUse).
        complete(uow, claim, status=202, body=created.model_dump_json())
        uow.commit()
    return created, message


def _usable_feature(
    uow: UnitOfWork, key: str, principal: Principal
) -> tuple[FeatureRead, FormSchema, str]:
    """The feature, its current form and its first step, if the caller may use it now."""
    feature = MySQLFeatureRepository(uow).get(key)
    if feature is None:
        raise ValidationFailed(
            "No such feature",
            errors=[FieldError("body.feature", "no such feature", "feature_unknown")],
        )
    if not feature.enabled:
        raise FeatureUnavailable("This feature is switched off for now")
    if principal.membership.plan_code not in feature.allowed_plans:
        raise FeatureUnavailable("This feature is not part of your plan")
    form = (
        None
        if feature.form_version is None
        else MySQLFormRepository(uow).get(key, feature.form_version)
    )
    pipeline = (
        None
        if feature.pipeline_version is None
        else MySQLPipelineRepository(uow).get(key, feature.pipeline_version)
    )
    if form is None or pipeline is None or not pipeline.steps:
        logger.error("feature without form or pipeline", extra={"feature": key})
        raise FeatureUnavailable("This feature is not configured")
    return feature, form, pipeline.steps[0].step


def _check_uploads(
    uow: UnitOfWork, *, user_id: int, form: FormSchema, inputs: dict[str, object]
) -> None:
    fields = upload_fields(form, inputs)
    ready = MySQLUploadRepository(uow).ready_public_ids(
        user_id=user_id, public_ids=sorted(set(fields.values()))
    )
    unusable = sorted(name for name, upload_id in fields.items() if upload_id not in ready)
    if unusable:
        raise UploadsUnusable(unusable)


# --- read --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TaskView:
    """A task as its owner sees it, and the validator of that view."""

    task: TaskRead
    etag: str


def get_task(
    *,
    database: Database,
    storage: Storage,
    settings: Settings,
    principal: Principal,
    task_id: str,
    language: str,
    clock: Clock = utc_now,
) -> TaskView:
    """The caller's task with output URLs valid for a while, and its weak ETag."""
    with database.read_only() as uow:
        task = _owned(uow, task_id, principal)
    return task_view(task, storage=storage, settings=settings, language=language, clock=clock)


def get_attached_task(
    attached: Row | None,
    *,
    storage: Storage,
    settings: Settings,
    language: str,
    clock: Clock = utc_now,
) -> TaskView:
    """`get_task` for a task the caller read attached (`task_attachment`); TaskNotFound when
    it found none of the caller's."""
    task = None if attached is None else attached_task(attached)
    if task is None:
        raise TaskNotFound
    return task_view(task, storage=storage, settings=settings, language=language, clock=clock)


def task_attachment(task_id: str) -> CallerAttachment | None:
    """What the caller read attaches to read task `task_id` (None for a malformed id)."""
    return owned_task_attachment(task_id) if _TASK_ID.fullmatch(task_id) else None


def task_view(
    task: Task, *, storage: Storage, settings: Settings, language: str, clock: Clock = utc_now
) -> TaskView:
    """The view of a task with output URLs valid for a while, and its weak ETag: the task's
    revision and, with outputs, the URLs' expiry window (an unchanged task within one window
    is a 304)."""
    now = clock()
    expires_at = _url_expiry(now, settings.task_output_url_expires_s)
    window = f"-{int(expires_at.timestamp())}" if task.images else ""
    return TaskView(
        task=to_read(task, storage=storage, language=language, now=now, expires_at=expires_at),
        etag=f'W/"{task.public_id[4:]}.{task.revision}{window}"',
    )


def list_tasks(
    *,
    database: Database,
    storage: Storage,
    settings: Settings,
    principal: Principal,
    status: TaskStatus | None,
    feature: str | None,
    cursor: str | None,
    limit: int,
    language: str,
    clock: Clock = utc_now,
) -> TaskPage:
    """The caller's visible tasks, newest first, `limit` (≤ 100) per page; the cursor is
    signed and bound to the caller and the filters, so an edited one is a 422."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError("limit is checked by the router")
    secret = derived_key(settings, "task-cursor")
    context = f"{principal.public_id}|{status or ''}|{feature or ''}"
    after = None
    if cursor is not None:
        created_ms, last_id = decode_cursor(cursor, (int, str), secret=secret, context=context)
        if not isinstance(created_ms, int) or not 0 <= created_ms < 2**47:
            raise InvalidCursor
        after = (datetime.fromtimestamp(created_ms / 1000, timezone.utc), str(last_id))
    with database.read_only() as uow:
        rows = MySQLTaskRepository(uow).page(
            user_id=principal.user.id,
            status=status,
            feature_key=feature,
            after=after,
            limit=limit + 1,
        )
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        created_ms = round(last.created_at.timestamp() * 1000)
        next_cursor = encode_cursor((created_ms, last.public_id), secret=secret, context=context)
    now = clock()
    expires_at = _url_expiry(now, settings.task_output_url_expires_s)
    return TaskPage(
        items=[
            to_read(task, storage=storage, language=language, now=now, expires_at=expires_at)
            for task in page
        ],
        next_cursor=next_cursor,
    )


def to_read(
    task: Task, *, storage: Storage, language: str, now: datetime, expires_at: datetime
) -> TaskRead:
    """The client's view of a task: output keys become signed URLs of our storage; the error
    is a registry code and its message, never a vendor's words."""
    output = None
    if task.images:
        expires_s = max(1, math.ceil((expires_at - now).total_seconds()))
        output = TaskOutput(
            images=[
                OutputImage(
                    url=storage.presign_download(image.key, expires_s=expires_s),
                    width=image.width,
                    height=image.height,
                    expires_at=expires_at,
                )
                for image in task.images
            ]
        )
    error = None
    if task.error_code is not None:
        entry = REGISTRY.get(task.error_code) or REGISTRY["INTERNAL"]
        error = TaskError(code=entry.code, message=entry.message(language))
    return TaskRead(
        id=task.public_id,
        feature=task.feature_key,
        status=task.status,
        inputs=task.inputs,
        output=output,
        error=error,
        cost=task.cost,
        created_at=task.created_at,
        started_at=task.started_at,
        finished_at=task.finished_at,
    )


def _url_expiry(now: datetime, lifetime_s: int) -> datetime:
    """The end of the next whole window of `lifetime_s`: URLs signed within one window share
    it, so they live between `lifetime_s` and twice that, and an unchanged task keeps its
    ETag for the window."""
    epoch = math.floor(now.timestamp() / lifetime_s) * lifetime_s + 2 * lifetime_s
    return datetime.fromtimestamp(epoch, timezone.utc)


def _owned(uow: UnitOfWork, task_id: str, principal: Principal, *, lock: bool = False) -> Task:
    if not _TASK_ID.fullmatch(task_id):
        raise TaskNotFound
    task = MySQLTaskRepository(uow).get_owned(task_id, user_id=principal.user.id, for_update=lock)
    if task is None:
        raise TaskNotFound
    return task


# --- cancel and delete -------------------------------------------------------------------


def cancel_task(
    *,
    database: Database,
    storage: Storage,
    redis: RedisClient,
    queue: QueuePort,
    settings: Settings,
    principal: Principal,
    task_id: str,
    language: str,
    clock: Clock = utc_now,
) -> TaskRead:
    """Cancel a queued or running task and return its credits, once; a vendor job it runs is
    canceled by the `generate` step at once (best effort). Canceling a canceled task answers
    it again; a finished one is TaskNotCancelable (409)."""
    now = clock()
    with database.unit_of_work() as uow:
        task = _owned(uow, task_id, principal, lock=True)
        stop = _cancel_in(uow, task, now=now) if task.status in ACTIVE else None
        if task.status not in ACTIVE and task.status != "canceled":
            raise TaskNotCancelable("The task has already finished")
        task = _owned(uow, task_id, principal)
        uow.commit()
    if stop is not None:
        count_finished(feature=task.feature_key, status="canceled", credits=task.cost)
        publish_committed(database=database, queue=queue, messages=stop, clock=clock)
    _announce(redis, task.public_id, task.status)
    expires_at = _url_expiry(now, settings.task_output_url_expires_s)
    return to_read(task, storage=storage, language=language, now=now, expires_at=expires_at)


def delete_task(
    *,
    database: Database,
    storage: Storage,
    redis: RedisClient,
    queue: QueuePort,
    principal: Principal,
    task_id: str,
    clock: Clock = utc_now,
) -> None:
    """Hide the task from its owner for good and delete its stored images; an unfinished
    task is canceled first (credits returned)."""
    with database.unit_of_work() as uow:
        task = _owned(uow, task_id, principal, lock=True)
        stop = _cancel_in(uow, task, now=clock()) if task.status in ACTIVE else None
        MySQLTaskRepository(uow).hide(task.id)
        uow.commit()
    if stop is not None:
        count_finished(feature=task.feature_key, status="canceled", credits=task.cost)
        _announce(redis, task.public_id, "canceled")
        publish_committed(database=database, queue=queue, messages=stop, clock=clock)
    for image in task.images:
        try:
            storage.delete(image.key)
        except Exception:  # noqa: BLE001 - the task is hidden; the object is an orphan
            logger.exception("output image not deleted", extra={"task": task.public_id})
    logger.info("task deleted", extra={"task": task.public_id, "images": len(task.images)})


def _cancel_in(uow: UnitOfWork, task: Task, *, now: datetime) -> list[OutboxMessage] | None:
    """Cancel `task` (credits returned) in `uow`; None when it had already ended. A running
    task also gets a `generate` message, which finds the task ended and cancels the vendor
    job it may run now rather than at its next poll; returned for publishing after commit."""
    if not MySQLTaskRepository(uow).cancel(task.id, now=now):
        return None
    if task.cost > 0:
        refund_in(uow=uow, task_ref=task.public_id, clock=lambda: now)
    logger.info("task canceled", extra={"task": task.public_id})
    if task.status != "running":
        return []
    stop = {"task_id": task.public_id, "step": "generate", "attempt": 1}
    return [enqueue_in(uow, step_queue("generate"), stop, clock=lambda: now)]


def _announce(redis: RedisClient, public_id: str, status: str) -> None:
    publish_task_event(redis, public_id, {"id": public_id, "status": status})
