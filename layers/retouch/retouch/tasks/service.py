"""Creating a task (`POST /v1/tasks`): idempotent, credits reserved, first step in the outbox.
Reading is in `views`, cancel and delete in `cancel`, the start and the ending in
`lifecycle`."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timedelta

from retouch.auth.schemas import Principal
from retouch.catalog.forms import upload_fields, validate_inputs
from retouch.catalog.repository import (
    MySQLFeatureRepository,
    MySQLFormRepository,
    MySQLPipelineRepository,
)
from retouch.catalog.schemas import FeatureRead, FormSchema
from retouch.core.db import Database, UnitOfWork
from retouch.core.errors import FieldError, ValidationFailed
from retouch.core.ids import new_public_id
from retouch.core.logging import logger
from retouch.core.settings import Settings
from retouch.core.time import Clock, to_millis, utc_now
from retouch.queue.outbox import OutboxMessage, enqueue_in, publish_committed
from retouch.queue.port import QueuePort
from retouch.queue.steps import step_queue
from retouch.quota.reservations import reserve_in
from retouch.tasks.errors import (
    FeatureUnavailable,
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
    UploadsUnusable,
)
from retouch.tasks.repository import MySQLIdempotencyRepository, TaskRepository
from retouch.tasks.schemas import KeyClaim, TaskCreate, TaskRead
from retouch.uploads.repository import MySQLUploadRepository

_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces
_CLAIM_ATTEMPTS = 3


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
    request_hash = _request_hash(request)
    claim = None
    if idempotency_key is not None:
        claim_or_answer = _claim_key(
            database,
            settings=settings,
            user_id=principal.user.id,
            key=idempotency_key,
            request_hash=request_hash,
            now=clock(),
        )
        if isinstance(claim_or_answer, TaskRead):
            return claim_or_answer
        claim = claim_or_answer
    try:
        task, message = _create(
            database,
            settings=settings,
            principal=principal,
            request=request,
            claim=claim,
            language=language,
            now=to_millis(clock()),
        )
    except BaseException:
        if claim is not None:
            _release(database, claim)
        raise
    publish_committed(database=database, queue=queue, messages=[message], clock=clock)
    logger.info("task created", extra={"task": task.id, "feature": task.feature})
    return task


def _request_hash(request: TaskCreate) -> str:
    canonical = json.dumps(
        request.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claim_key(
    database: Database,
    *,
    settings: Settings,
    user_id: int,
    key: str,
    request_hash: str,
    now: datetime,
) -> KeyClaim | TaskRead:
    """Claim `key` for this request (committed at once, so a concurrent request sees it), or
    the stored response of the request that completed it."""
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise IdempotencyKeyInvalid
    claim = KeyClaim(
        user_id=user_id,
        key=key,
        request_hash=request_hash,
        token=new_public_id("clm")[4:36].ljust(32, "0"),
        now=now,
        lease_until=now + timedelta(seconds=settings.idempotency_lease_s),
        expires_at=now + timedelta(seconds=settings.idempotency_ttl_s),
    )
    for _ in range(_CLAIM_ATTEMPTS):
        # Each statement commits on its own, so concurrent twins only ever wait on one row.
        with database.unit_of_work() as uow:
            claimed = MySQLIdempotencyRepository(uow).insert(claim)
            uow.commit()
        if not claimed:
            with database.unit_of_work() as uow:
                keys = MySQLIdempotencyRepository(uow)
                claimed = keys.take_over(claim)
                row = None if claimed else keys.find(user_id=user_id, key=key)
                uow.commit()
        if claimed:
            return claim
        if row is None:
            continue  # released between our two statements: try again
        if row["request_hash"] != request_hash:
            raise IdempotencyKeyReused("This Idempotency-Key was used for a different request")
        if row["state"] == "done":
            return TaskRead.model_validate_json(row["response_body"])
        raise IdempotencyKeyInUse("A request with this Idempotency-Key is still in progress")
    raise IdempotencyKeyInUse("A request with this Idempotency-Key is still in progress")


def _release(database: Database, claim: KeyClaim) -> None:
    try:
        with database.unit_of_work() as uow:
            MySQLIdempotencyRepository(uow).release(claim)
            uow.commit()
    except Exception:  # noqa: BLE001 - the lease frees the key anyway
        logger.exception("idempotency key not released; its lease will free it")


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
        task_id = uow.repository(TaskRepository).add(
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
        if claim is not None and not MySQLIdempotencyRepository(uow).complete(
            claim,
            task_id=task_id,
            status=202,
            body=created.model_dump_json(),
        ):
            # Our lease ran out and another request took the key over: it creates the task.
            raise IdempotencyKeyInUse("A request with this Idempotency-Key is still in progress")
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
