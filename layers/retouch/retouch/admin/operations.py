"""The operators' actions: see and redrive the step queues' dead letters, and invalidate a
cache namespace. Each change writes an audit row (actor, action, target, what moved, the
request's ids); a redrive with an `Idempotency-Key` is done once per key and body.

A redrive moves messages in the queue (Redis, SQS, the SCF ledger), which no database
transaction covers: the messages move first, then one transaction writes the audit row and
the key's stored answer. A crash between the two leaves the key to its lease and the move
unaudited; a retry with the same key then redrives again, which moves only what is dead by
then (the port's redrive is itself safe to repeat: a moved message is no longer dead).
"""

from __future__ import annotations

from datetime import datetime, timezone

from retouch.admin.schemas import (
    STEP_QUEUES,
    CacheInvalidateRead,
    DeadLetter,
    DeadLetterQueue,
    DeadLetters,
    Redrive,
    RedriveRead,
)
from retouch.audit.repository import AuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.cache import Cache
from retouch.core.errors import AppError
from retouch.core.identity import Principal
from retouch.core.settings import Settings
from retouch.core.units import Transaction, Transactions
from retouch.idempotency import IdempotencyKey, KeyClaim, complete, run_once
from retouch.queue.messages import DeadMessage, NotSupported
from retouch.queue.port import ALL, QueuePort

#: Dead letters counted per queue (and the first SAMPLES shown); more reads as "100+".
COUNT_LIMIT = 100
SAMPLES = 5
#: The Idempotency-Key scope of `POST /v1/admin/dead-letters/{queue}/redrive`.
REDRIVE_OPERATION = "admin_dead_letters_redrive"


class DeadLettersUnavailable(AppError):
    """The queue backend cannot list or redrive dead letters (RETOUCH_QUEUE_BACKEND=cmq:
    TDMQ keeps them, and its console redrives them)."""

    code = "DEAD_LETTERS_UNAVAILABLE"


def list_dead_letters(*, queue: QueuePort) -> DeadLetters:
    """Per step queue: how many dead letters (up to COUNT_LIMIT), the oldest, a few samples."""
    return DeadLetters(queues=[_dead_queue(queue, name) for name in STEP_QUEUES])


def _dead_queue(queue: QueuePort, name: str) -> DeadLetterQueue:
    try:
        dead = queue.list_dead(name, limit=COUNT_LIMIT + 1)
    except NotSupported as exc:
        raise DeadLettersUnavailable(str(exc)) from None
    counted = dead[:COUNT_LIMIT]
    oldest = min((message.dead_at_ms for message in counted), default=None)
    return DeadLetterQueue(
        queue=name,
        count=len(counted),
        count_is_lower_bound=len(dead) > COUNT_LIMIT,
        oldest_dead_at=None if oldest is None else _moment(oldest),
        samples=[_sample(message) for message in counted[:SAMPLES]],
    )


def redrive(
    *,
    database: Transactions,
    settings: Settings,
    queue: QueuePort,
    actor: Principal,
    queue_name: str,
    request: Redrive,
    idempotency_key: str | None,
) -> RedriveRead:
    """Move the named dead letters (or every one) back to `queue_name`, audited
    (`queue.redrive`); the same Idempotency-Key and body answer the first response again."""

    def move(claim: KeyClaim | None) -> RedriveRead:
        wanted = ALL if request.message_ids is None else request.message_ids
        try:
            moved = queue.redrive(queue_name, wanted)
        except NotSupported as exc:
            raise DeadLettersUnavailable(str(exc)) from None
        answer = RedriveRead(queue=queue_name, moved=moved)
        with database.unit_of_work() as uow:
            _audit(
                uow,
                actor,
                "queue.redrive",
                "queue",
                queue_name,
                {
                    "moved": moved,
                    "message_ids": request.message_ids or "all",
                },
            )
            complete(uow, claim, status=200, body=answer.model_dump_json())
            uow.commit()
        return answer

    return run_once(
        database=database,
        settings=settings,
        key=IdempotencyKey.sent(
            user_id=actor.user.id, operation=REDRIVE_OPERATION, header=idempotency_key
        ),
        body={"queue": queue_name, **request.model_dump(mode="json")},
        run=move,
        replay=RedriveRead.model_validate_json,
    )


def invalidate_cache(
    *, database: Transactions, cache: Cache, actor: Principal, namespace: str
) -> CacheInvalidateRead:
    """Retire every cached value of `namespace` on every instance, then audit it
    (`cache.invalidate`)."""
    cache.invalidate(namespace)
    with database.unit_of_work() as uow:
        _audit(uow, actor, "cache.invalidate", "cache_namespace", namespace, {"invalidated": True})
        uow.commit()
    return CacheInvalidateRead(namespace=namespace, invalidated=True)


def _audit(
    uow: Transaction,
    actor: Principal,
    action: str,
    target_type: str,
    target: str,
    after: dict[str, object],
) -> None:
    uow.repository(AuditRepository).add(
        AuditEntry(
            actor_user_id=actor.user.id,
            action=action,
            target_type=target_type,
            target_id=target,
            after=after,
        )
    )


def _moment(epoch_ms: int) -> datetime:
    return datetime.fromtimestamp(epoch_ms / 1000, timezone.utc)


def _sample(dead: DeadMessage) -> DeadLetter:
    return DeadLetter(
        id=dead.message.id,
        body=dead.message.body,
        delivery_count=dead.message.delivery_count,
        sent_at=_moment(dead.message.sent_at_ms),
        dead_at=_moment(dead.dead_at_ms),
    )
