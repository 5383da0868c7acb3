"""Creating a task (`POST /v1/tasks`): idempotent, credits reserved, first step in the outbox.
Reading is in `views`, cancel and delete in `cancel`, the start and the ending in
`lifecycle`."""

from __future__ import annotations

from datetime import datetime, timedelta

from retouch.catalog.forms import upload_fields, validate_inputs
from retouch.catalog.repository import FeatureRepository, FormRepository, PipelineRepository
from retouch.catalog.schemas import FeatureRead, FormSchema
from retouch.core.errors import FieldError, ValidationFailed
from retouch.core.identity import Principal
from retouch.core.ids import new_public_id
from retouch.core.logging import logger
from retouch.core.settings import Settings
from retouch.core.time import Clock, to_millis, utc_now
from retouch.core.units import Transaction, Transactions
from retouch.idempotency import IdempotencyKey, KeyClaim, complete, run_once
from retouch.queue.outbox import OutboxMessage, enqueue_in, publish_committed
from retouch.queue.port import QueuePort
from retouch.queue.steps import step_queue
from retouch.quota.reservations import reserve_in
from retouch.tasks.errors import (
    FeatureUnavailable,
    UploadsUnusable,
)
from retouch.tasks.limits import check_plan, plan_in_force
from retouch.tasks.repository import TaskRepository
from retouch.tasks.schemas import TaskCreate, TaskRead
from retouch.uploads.repository import UploadRepository
from retouch.users.errors import EmailNotVerified

#: The Idempotency-Key scope of `POST /v1/tasks` (rows from before migration 0011 have it).
CREATE_OPERATION = "tasks_create"


# --- create ------------------------------------------------------------------------------


def create_task(
    *,
    database: Transactions,
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
    body is IdempotencyKeyReused (422). An unverified caller is EmailNotVerified (403) while
    unverified accounts have no allowance."""
    if not principal.user.email_verified and settings.unverified_allowance == 0:
        raise EmailNotVerified

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

    return run_once(
        database=database,
        settings=settings,
        key=IdempotencyKey.sent(
            user_id=principal.user.id, operation=CREATE_OPERATION, header=idempotency_key
        ),
        body=request.model_dump(mode="json"),
        run=create,
        replay=TaskRead.model_validate_json,
        clock=clock,
    )


def _create(
    database: Transactions,
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
        plan = plan_in_force(uow, principal)  # first: it locks, then the snapshot is taken
        feature, form, first_step = _usable_feature(uow, request.feature, principal)
        inputs = validate_inputs(form=form, inputs=request.inputs, language=language)
        uploads = _check_uploads(uow, user_id=user_id, form=form, inputs=inputs)
        check_plan(uow, plan=plan, user_id=user_id, uploads=uploads)
        public_id = new_public_id("tsk")
        if feature.cost > 0:
            reserve_in(
                uow=uow,
                user_id=user_id,
                amount=feature.cost,
                task_ref=public_id,
                clock=lambda: now,
            )
        uow.repository(TaskRepository).add(
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
    uow: Transaction, key: str, principal: Principal
) -> tuple[FeatureRead, FormSchema, str]:
    """The feature, its current form and its first step, if the caller may use it now."""
    feature = uow.repository(FeatureRepository).get(key)
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
        else uow.repository(FormRepository).get(key, feature.form_version)
    )
    pipeline = (
        None
        if feature.pipeline_version is None
        else uow.repository(PipelineRepository).get(key, feature.pipeline_version)
    )
    if form is None or pipeline is None or not pipeline.steps:
        logger.error("feature without form or pipeline", extra={"feature": key})
        raise FeatureUnavailable("This feature is not configured")
    return feature, form, pipeline.steps[0].step


def _check_uploads(
    uow: Transaction, *, user_id: int, form: FormSchema, inputs: dict[str, object]
) -> dict[str, str]:
    """The inputs' uploads (field → public id), all ready and the caller's."""
    fields = upload_fields(form, inputs)
    ready = uow.repository(UploadRepository).ready_public_ids(
        user_id=user_id, public_ids=sorted(set(fields.values()))
    )
    unusable = sorted(name for name, upload_id in fields.items() if upload_id not in ready)
    if unusable:
        raise UploadsUnusable(unusable)
    return fields
