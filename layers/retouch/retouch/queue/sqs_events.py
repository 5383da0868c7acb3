"""SQS-shaped Lambda events from Redis deliveries, and Powertools batch processing over them.

A step handler written for Lambda (`handler(event, context)` returning `batchItemFailures`)
therefore runs unchanged on the local runtime: `consume` below receives from Redis, builds
the event Lambda would build, calls the handler and acknowledges what the response says
succeeded. Powertools is imported on first use: the API functions never pay for it.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from retouch.core.logging import logger
from retouch.queue.messages import Delivery
from retouch.queue.port import BatchAcknowledger, QueuePort
from retouch.queue.sqs_records import ID_ATTRIBUTE

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

#: The account and region of local ARNs (no AWS account is involved).
LOCAL_ACCOUNT, LOCAL_REGION = "000000000000", "local"

LambdaHandler = Callable[[dict[str, Any], Any], Any]


def sqs_record(delivery: Delivery, *, received_at_ms: int) -> dict[str, Any]:
    """One SQS record as Lambda delivers it (standard queue, raw JSON body)."""
    message = delivery.message
    body = json.dumps(message.body, separators=(",", ":"), ensure_ascii=False)
    return {
        "messageId": message.id,
        "receiptHandle": delivery.receipt,
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(message.delivery_count),
            "SentTimestamp": str(message.sent_at_ms),
            "SenderId": LOCAL_ACCOUNT,
            "ApproximateFirstReceiveTimestamp": str(received_at_ms),
        },
        # Our stable id where Lambda puts it for messages SqsQueue sent (there `messageId` is
        # SQS's own), so a handler reads it the same way locally and on AWS.
        "messageAttributes": {
            ID_ATTRIBUTE: {
                "stringValue": message.id,
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": "String",
            }
        },
        "md5OfBody": hashlib.md5(body.encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{LOCAL_REGION}:{LOCAL_ACCOUNT}:{delivery.queue}",
        "awsRegion": LOCAL_REGION,
    }


def sqs_event(
    deliveries: Sequence[Delivery], *, received_at_ms: int | None = None
) -> dict[str, Any]:
    """The Lambda event of one batch: `{"Records": [...]}` in delivery order."""
    received = round(time.time() * 1000) if received_at_ms is None else received_at_ms
    return {"Records": [sqs_record(item, received_at_ms=received) for item in deliveries]}


def process_batch(
    event: dict[str, Any], record_handler: Callable[[SQSRecord], Any], context: Any = None
) -> dict[str, Any]:
    """Run `record_handler` on every record with Powertools `BatchProcessor(EventType.SQS)`;
    returns `{"batchItemFailures": [{"itemIdentifier": messageId}, ...]}`. When every record
    fails Powertools raises `BatchProcessingError`, so the whole batch comes back."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    processor = BatchProcessor(event_type=EventType.SQS)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What one local invocation did: message ids acknowledged and left for redelivery."""

    acknowledged: list[str]
    failed: list[str]


def consume(
    queue: QueuePort,
    name: str,
    handler: LambdaHandler,
    *,
    context: Any = None,
    max_messages: int = 10,
    wait_s: float = 0,
) -> BatchOutcome:
    """Receive one batch, call `handler(event, context)` as Lambda would with
    ReportBatchItemFailures on, acknowledge the successes and leave the failures unacknowledged
    (delivered again after the visibility timeout, dead-lettered after the maximum)."""
    deliveries = queue.receive(name, max_messages=max_messages, wait_s=wait_s)
    if not deliveries:
        return BatchOutcome([], [])
    every_id = [delivery.message.id for delivery in deliveries]
    try:
        response = handler(sqs_event(deliveries), context)
    except Exception:  # noqa: BLE001 - Lambda's rule: an invocation that raised fails the batch
        logger.exception("queue handler failed; the whole batch will be delivered again")
        return BatchOutcome([], every_id)
    failed = _failed_ids(response, every_id)
    done = [delivery for delivery in deliveries if delivery.message.id not in failed]
    if isinstance(queue, BatchAcknowledger):
        queue.ack_many(done)  # one round trip for the batch
    else:
        for delivery in done:
            queue.ack(delivery)
    return BatchOutcome(
        [i for i in every_id if i not in failed], [i for i in every_id if i in failed]
    )


def _failed_ids(response: Any, every_id: list[str]) -> set[str]:
    """The ids a response reports failed. As on Lambda, a failure naming no record of the
    batch (empty, null or unknown identifier) fails the whole batch."""
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if not failures:
        return set()
    named = {item.get("itemIdentifier") if isinstance(item, dict) else None for item in failures}
    if not named <= set(every_id):
        return set(every_id)
    return {str(identifier) for identifier in named}
