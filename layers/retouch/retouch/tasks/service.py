"""Creating a task (`POST /v1/tasks`): idempotent, credits reserved, first step in the outbox.
Reading is in `views`, cancel and delete in `cancel`, the start and the ending in
`lifecycle`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from retouch.catalog.forms import upload_fields, validate_inputs
from retouch.catalog.schemas import FormSchema
from retouch.core.errors import FieldError, ValidationFailed
from retouch.core.identity import Principal
from retouch.core.ids import new_public_id
from retouch.core.logging import logger
from retouch.core.settings import Settings
from retouch.core.time import Clock, to_millis, utc_now
from retouch.core.units import Transaction, Transactions
from retouch.idempotency import IdempotencyKey, KeyClaim, complete, run_once
from retouch.queue.outbox import OutboxMessage, enqueue_in, publish_all
from retouch.queue.port import QueuePort
from retouch.queue.repository import OutboxRepository
from retouch.queue.steps import step_queue
from retouch.quota.repository import AccountRepository
from retouch.quota.reservations import reserve_new_in
from retouch.tasks.creation import (
    CreationFacts,
    CreationReads,
    form_and_pipeline,
    upload_candidates,
)
from retouch.tasks.errors import (
    FeatureUnavailable,
    UploadsUnusable,
)
from retouch.tasks.limits import check_concurrency, check_resolution
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
        _publish(database, queue, message, clock=clock)
        return task

    return run_once(
        database=database,
        settings=settings,
        key=IdempotencyKey.sent(
            user_id=principal.user.id, operation=CREATE_OPERATION, header=idempotency_key
        ),
        body={} if idempotency_key is None else request.model_dump(mode="json"),
        run=create,
        replay=TaskRead.model_validate_json,
        clock=clock,
    )


def _publish(
    database: Transactions, queue: QueuePort, message: OutboxMessage, *, clock: Clock
) -> None:
    """Publish the committed message, then mark it published in one statement committed on
    its own (no transaction to open and end for it); a failed publish is left to the relay."""
    if any(error is None for _, error in publish_all(queue, [message])):
        with database.autocommit() as uow:
            uow.repository(OutboxRepository).mark_all_published([message.id], now=clock())


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
    judged = _judge(database, principal=principal, request=request, language=language)
    cost, limit = judged.facts.cost, judged.facts.max_concurrent_tasks
    public_id = new_public_id("tsk")
    with database.unit_of_work() as uow:
        _reserve(uow, user_id=user_id, cost=cost, limit=limit, task_ref=public_id, now=now)
        uow.repository(TaskRepository).add(
            public_id=public_id,
            user_id=user_id,
            feature_key=request.feature,
            form_version=judged.form.version,
            pipeline_version=judged.facts.pipeline_version or 0,
            inputs=judged.inputs,
            cost=cost,
            now=now,
            deadline_at=now + timedelta(seconds=settings.task_deadline_s),
        )
        message = enqueue_in(
            uow,
            step_queue(judged.first_step),
            {"task_id": public_id, "step": judged.first_step, "attempt": 1},
            clock=lambda: now,
        )
        created = TaskRead(
            id=public_id,
            feature=request.feature,
            status="queued",
            inputs=judged.inputs,
            output=None,
            error=None,
            cost=cost,
            created_at=now,
            started_at=None,
            finished_at=None,
        )
        if claim is not None:
            # Our lease may have run out and another request taken the key over: then that
            # one creates the task, and `complete` refuses ours (IdempotencyKeyInUse).
            complete(uow, claim, status=202, body=created.model_dump_json())
        uow.commit()
    return created, message


def _reserve(
    uow: Transaction, *, user_id: int, cost: int, limit: int | None, task_ref: str, now: datetime
) -> None:
    """The creating transaction's first statements: they lock the caller's account
    (serialising their creations), so the count of unfinished tasks under the lock is exact;
    then the credits are reserved."""
    if cost > 0:
        reserve_new_in(
            uow=uow,
            user_id=user_id,
            amount=cost,
            task_ref=task_ref,
            now=now,
            under_lock=lambda: check_concurrency(uow, limit=limit, user_id=user_id),
        )
    else:
        uow.repository(AccountRepository).get(user_id, for_update=True)
        check_concurrency(uow, limit=limit, user_id=user_id)


@dataclass(frozen=True, slots=True)
class _Judged:
    facts: CreationFacts
    form: FormSchema
    first_step: str
    inputs: dict[str, Any]


def _judge(
    database: Transactions, *, principal: Principal, request: TaskCreate, language: str
) -> _Judged:
    """The feature usable by the caller now, the inputs valid for its current form, every
    upload they name ready, the caller's and within the plan's size: one statement (two the
    first time an instance meets a form or pipeline version), before the transaction."""
    candidates = upload_candidates(request.inputs)
    user_id = principal.user.id
    with database.read_only() as uow:
        facts = uow.repository(CreationReads).facts(
            feature_key=request.feature,
            plan_code=principal.membership.plan_code,
            user_id=user_id,
            upload_ids=candidates or [],
        )
        facts, form, first_step = _usable_feature(uow, database, request.feature, facts, principal)
        inputs = validate_inputs(form=form, inputs=request.inputs, language=language)
        fields = upload_fields(form, inputs)
        if candidates is None:  # too many to ask for up front: only the form's fields
            found = uow.repository(UploadRepository).ready_uploads(
                user_id=user_id, public_ids=sorted(set(fields.values()))
            )
            ready = {key: (up.width or 0) * (up.height or 0) for key, up in found.items()}
        else:
            ready = facts.ready_uploads
    unusable = sorted(name for name, upload_id in fields.items() if upload_id not in ready)
    if unusable:
        raise UploadsUnusable(unusable)
    check_resolution(limit=facts.max_input_pixels, pixels=(ready[u] for u in fields.values()))
    return _Judged(facts=facts, form=form, first_step=first_step, inputs=inputs)


def _usable_feature(
    uow: Transaction,
    database: Transactions,
    key: str,
    facts: CreationFacts | None,
    principal: Principal,
) -> tuple[CreationFacts, FormSchema, str]:
    """The feature's facts, current form and first step, if the caller may use it now."""
    if facts is None:
        raise ValidationFailed(
            "No such feature",
            errors=[FieldError("body.feature", "no such feature", "feature_unknown")],
        )
    if not facts.enabled:
        raise FeatureUnavailable("This feature is switched off for now")
    if principal.membership.plan_code not in facts.allowed_plans:
        raise FeatureUnavailable("This feature is not part of your plan")
    form = pipeline = None
    if facts.form_version is not None and facts.pipeline_version is not None:
        form, pipeline = form_and_pipeline(
            uow,
            database,
            feature_key=key,
            form=facts.form_version,
            pipeline=facts.pipeline_version,
        )
    if form is None or pipeline is None or not pipeline.steps:
        logger.error("feature without form or pipeline", extra={"feature": key})
        raise FeatureUnavailable("This feature is not configured")
    return facts, form, pipeline.steps[0].step
