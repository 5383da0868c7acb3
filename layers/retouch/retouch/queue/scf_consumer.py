"""A step function's side of the scf backend: count, run, retry or bury each invoked message.

SQS's rules, kept by the function because SCF's asynchronous invocation has no receive count
and no dead-letter queue today (docs/queue-tencent.md):

1. each arrival is counted in Redis (platform retries after a crash or timeout included);
2. the message runs through the same Lambda-style handler as on AWS, which sees the count as
   `ApproximateReceiveCount`;
3. a failed message is invoked again after RETOUCH_QUEUE_VISIBILITY_TIMEOUT_S (its id and
   count kept), and the invocation ends normally, so the platform does not retry it as well;
4. the arrival numbered RETOUCH_QUEUE_MAX_DELIVERIES is written as a dead letter *before* it
   runs and removed when it succeeds: a last attempt that fails, or kills the instance, leaves
   the dead letter; an arrival past the maximum (a platform retry of that crash) is not run.

Anything raised outside the handler's per-record processing (Redis or the invoke down) ends
the invocation with the error, and SCF's async retry policy invokes it again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from retouch.core.logging import logger
from retouch.core.redis import get_redis
from retouch.core.settings import get_settings
from retouch.queue.messages import NotSupported, decode_body
from retouch.queue.scf_events import InboundMessage, sqs_record
from retouch.queue.scf_ledger import Envelope, ScfLedger

Handler = Callable[[dict[str, Any], Any], Any]


@dataclass(frozen=True, slots=True)
class ConsumerRules:
    """Where the counts live, how many arrivals a message gets and how it is sent again."""

    ledger: ScfLedger
    max_deliveries: int
    retry_delay_s: float
    resend: Callable[[Envelope, float], None]
    clock_ms: Callable[[], int] = lambda: int(time.time() * 1000)


def run_invoked(
    envelopes: list[Envelope],
    handler: Handler,
    context: Any = None,
    *,
    rules: ConsumerRules | None = None,
) -> dict[str, Any]:
    """Run each invoked message through `handler`; the failed ones are listed in
    `batchItemFailures` (for the log: they are already retried or dead)."""
    rules = rules or _rules_from_settings()
    failures = [
        {"itemIdentifier": envelope.msgId}
        for envelope in envelopes
        if not _run_one(envelope, handler, context, rules)
    ]
    return {"batchItemFailures": failures}


def _run_one(envelope: Envelope, handler: Handler, context: Any, rules: ConsumerRules) -> bool:
    count = rules.ledger.count_delivery(envelope)
    last = count >= rules.max_deliveries
    if last:
        rules.ledger.bury(envelope, deliveries=count, now_ms=rules.clock_ms())
    if count > rules.max_deliveries:
        _log_dead(envelope, count, "arrived again after its last attempt")
        return False
    message = InboundMessage(envelope.msgId, envelope.queue, decode_body(envelope.msgBody))
    response = handler({"Records": [sqs_record(message, receive_count=count)]}, context)
    failed = bool(response.get("batchItemFailures")) if isinstance(response, dict) else False
    if not failed:
        if last:
            rules.ledger.unbury(envelope)
        return True
    if last:
        _log_dead(envelope, count, "failed its last attempt")
    else:
        rules.resend(envelope, rules.retry_delay_s)
    return False


def _log_dead(envelope: Envelope, count: int, why: str) -> None:
    logger.warning(
        "queue message dead-lettered",
        extra={
            "queue": envelope.queue,
            "message_id": envelope.msgId,
            "deliveries": count,
            "reason": why,
        },
    )


def _rules_from_settings() -> ConsumerRules:
    settings = get_settings()
    return ConsumerRules(
        ledger=ScfLedger(get_redis()),
        max_deliveries=settings.queue_max_deliveries,
        retry_delay_s=settings.queue_visibility_timeout_s,
        resend=_resend_through_process_queue,
    )


def _resend_through_process_queue(envelope: Envelope, delay_s: float) -> None:
    from retouch.queue.factory import get_queue
    from retouch.queue.scf_invoke import ScfInvokeQueue

    queue = get_queue()
    if not isinstance(queue, ScfInvokeQueue):
        raise NotSupported("an invoked message is retried only with RETOUCH_QUEUE_BACKEND=scf")
    queue.send(envelope, delay_s=min(delay_s, queue.retry_delay_s))
