"""The transactional outbox (DESIGN §5): a message is written in the transaction that makes
it true, published right after that transaction commits, and by the `outbox-relay` schedule
if the process died in between. Delivery is therefore at least once; consumers are
idempotent.

    with database.unit_of_work() as uow:
        ...                                   # the task, its reservation
        message = enqueue_in(uow, "steps-prepare", {"task_id": ..., "step": "prepare"})
        uow.commit()
    publish_committed(database=database, queue=get_queue(), messages=[message])
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from retouch.core.logging import logger
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transaction, Transactions
from retouch.queue.marks import DeferredMarks
from retouch.queue.messages import check_queue_name, encode_body
from retouch.queue.port import BatchPublisher, QueuePort
from retouch.queue.repository import OutboxMessage, OutboxRepository

__all__ = [
    "DeferredMarks",
    "OutboxMessage",
    "RelayReport",
    "enqueue_in",
    "publish_all",
    "publish_committed",
    "purge_published",
    "relay",
]


@dataclass(frozen=True, slots=True)
class RelayReport:
    """What one relay run did, and the `backlog` it left: unpublished messages older than
    its minimum age once it stopped (rows that failed, or that a failure kept it from)."""

    published: int
    failed: int
    backlog: int = 0


def enqueue_in(
    uow: Transaction, queue: str, body: dict[str, Any], *, delay_s: int = 0, clock: Clock = utc_now
) -> OutboxMessage:
    """Write a message into the outbox in the caller's transaction (nothing is sent yet)."""
    text = encode_body(body)  # refuse a bad message before anything commits
    outbox_id = uow.repository(OutboxRepository).add(
        queue=check_queue_name(queue), body=text, delay_s=delay_s, now=clock()
    )
    return OutboxMessage(id=outbox_id, queue=queue, body=body, delay_s=delay_s)


def publish_committed(
    *,
    database: Transactions,
    queue: QueuePort,
    messages: Sequence[OutboxMessage],
    clock: Clock = utc_now,
    marks: DeferredMarks | None = None,
) -> int:
    """Publish messages whose transaction committed and mark them published, all in one
    statement (given `marks`, with the rest of the batch: `DeferredMarks`); returns how many
    went out. A failed publish is logged and left to the relay: the caller's work is done."""
    published = [message.id for message, error in publish_all(queue, messages) if error is None]
    if marks is not None:
        marks.add(published, database=database, clock=clock)
    elif published:
        with database.unit_of_work() as uow:
            uow.repository(OutboxRepository).mark_all_published(published, now=clock())
            uow.commit()
    return len(published)


def publish_all(
    queue: QueuePort, messages: Sequence[OutboxMessage]
) -> list[tuple[OutboxMessage, Exception | None]]:
    """Publish every message, in one round trip where the queue can (`BatchPublisher`);
    each with the error that kept it from going out, or None. Failures are logged."""
    if isinstance(queue, BatchPublisher) and len(messages) > 1:
        outcomes = queue.publish_many([(m.queue, m.body, m.delay_s) for m in messages])
    else:
        outcomes = [_publish_one(queue, message) for message in messages]
    results = []
    for message, outcome in zip(messages, outcomes, strict=True):
        error = outcome if isinstance(outcome, Exception) else None
        if error is not None:
            logger.warning(
                "outbox publish failed; the relay will retry",
                extra={"outbox_id": message.id, "queue": message.queue, "error": repr(error)[:200]},
            )
        results.append((message, error))
    return results


def _publish_one(queue: QueuePort, message: OutboxMessage) -> str | Exception:
    try:
        return queue.publish(message.queue, message.body, delay_s=message.delay_s)
    except Exception as exc:  # noqa: BLE001 - handed back: the relay publishes it later
        return exc


def relay(
    *,
    database: Transactions,
    queue: QueuePort,
    min_age_s: float = 5.0,
    batch: int = 100,
    clock: Clock = utc_now,
) -> RelayReport:
    """Publish every unpublished message older than `min_age_s` (the request that wrote it
    normally publishes it within milliseconds), oldest first, `batch` rows per transaction:
    published together where the queue can, marked in one statement. Rows are locked with
    SKIP LOCKED, so two relays never publish the same row at once; a row that failed keeps
    its failure and waits for the next run."""
    published = failed = 0
    while True:
        now = clock()
        with database.unit_of_work() as uow:
            outbox = uow.repository(OutboxRepository)
            messages = outbox.claim_unpublished(
                created_before=now - timedelta(seconds=min_age_s), limit=batch
            )
            sent = []
            for message, error in publish_all(queue, messages):
                if error is None:
                    sent.append(message.id)
                else:
                    failed += 1
                    outbox.record_failure(message.id, error=type(error).__name__)
            outbox.mark_all_published(sent, now=now)
            published += len(sent)
            uow.commit()
        if len(messages) < batch or failed:
            break
    with database.unit_of_work() as uow:
        backlog = uow.repository(OutboxRepository).count_unpublished(
            created_before=clock() - timedelta(seconds=min_age_s)
        )
    if published or failed or backlog:
        logger.info(
            "outbox relayed", extra={"published": published, "failed": failed, "backlog": backlog}
        )
    return RelayReport(published=published, failed=failed, backlog=backlog)


def purge_published(*, database: Transactions, older_than: datetime, limit: int = 1000) -> int:
    """Delete published rows older than `older_than` (kept a while for operators)."""
    with database.unit_of_work() as uow:
        deleted = uow.repository(OutboxRepository).purge_published(before=older_than, limit=limit)
        uow.commit()
    return deleted
