"""Tencent SCF queue triggers: the message bodies of a trigger event, in the SQS shape too.

Shapes read (shared/reference/platforms.md §3d, SCF's "trigger event message structures"):

- CMQ trigger: `{"Records": [{"CMQ": {"type": "topic"|"queue", "msgId", "msgBody",
  "topicName"|"queueName", "publishTime", ...}}]}`. Only the topic form is documented; a
  queue record is read the same way (its name under `queueName`).
- TDMQ through EventBridge: `{"type": "connector:tdmq", "source": "tdmq.cloud.tencent",
  "data": {"topic", "msgId", "msgBody", ...}}` — one message per event.
- CKafka trigger: `{"Records": [{"Ckafka": {"topic", "partition", "offset", "msgBody"}}]}`.
- The scf backend's asynchronous invocation (`scf_invoke.py`, our own shape):
  `{"Records": [{"RetouchQueue": {"queue", "msgId", "msgBody", "sentAtMs"}}]}`.

SCF has no partial batch response. For trigger events `run_scf_batch` raises when any record
failed, so the trigger delivers the whole batch again (consumers are idempotent anyway: at
least once). An invoked message is retried by `scf_consumer.run_invoked` itself: invoked again
after the visibility timeout, a dead letter after RETOUCH_QUEUE_MAX_DELIVERIES arrivals.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from retouch.queue.messages import InvalidMessage, QueueError, UnknownEventShape, decode_body
from retouch.queue.scf_ledger import Envelope


@dataclass(frozen=True, slots=True)
class InboundMessage:
    """A message as a trigger delivered it: the platform's id, its queue/topic, the body."""

    id: str
    source: str
    body: dict[str, Any]


class BatchFailed(QueueError):
    """Some records of an SCF batch failed; raised so the trigger retries the batch."""

    def __init__(self, failed_ids: list[str]) -> None:
        super().__init__(f"{len(failed_ids)} record(s) failed: {', '.join(failed_ids)}")
        self.failed_ids = failed_ids


def scf_queue_messages(event: dict[str, Any]) -> list[InboundMessage]:
    """The messages of a CMQ, CKafka or TDMQ (EventBridge) trigger event, or of an scf-backend
    invocation, in order."""
    if event.get("type") == "connector:tdmq" and isinstance(event.get("data"), dict):
        data = event["data"]
        return [_message(data.get("msgId"), data.get("topic"), data.get("msgBody"))]
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        raise UnknownEventShape("not a CMQ, CKafka or TDMQ trigger event")
    return [_record(record) for record in records]


def sqs_event_from_scf(event: dict[str, Any]) -> dict[str, Any]:
    """The SQS-shaped event of an SCF queue trigger event, so a handler written for Lambda
    reads the same records (receive count unknown on SCF: reported as 1)."""
    return {"Records": [sqs_record(message) for message in scf_queue_messages(event)]}


def sqs_record(message: InboundMessage, *, receive_count: int = 1) -> dict[str, Any]:
    """One SQS-shaped record of an inbound message."""
    return {
        "messageId": message.id,
        "receiptHandle": message.id,
        "body": json.dumps(message.body, separators=(",", ":"), ensure_ascii=False),
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
        "messageAttributes": {},
        "eventSource": "qcs:scf-queue-trigger",
        "eventSourceARN": message.source,
    }


def run_scf_batch(
    event: dict[str, Any], handler: Callable[[dict[str, Any], Any], Any], context: Any = None
) -> Any:
    """Call a Lambda-style queue handler on an SCF trigger event; raise BatchFailed when it
    reports failed records (SCF retries whole invocations only). An event of the scf
    backend's invocations goes to `scf_consumer.run_invoked` (retries and dead letters)."""
    envelopes = invoked_envelopes(event)
    if envelopes:
        from retouch.queue.scf_consumer import run_invoked

        return run_invoked(envelopes, handler, context)
    response = handler(sqs_event_from_scf(event), context)
    failures = response.get("batchItemFailures") if isinstance(response, dict) else None
    if failures:
        raise BatchFailed([str(item.get("itemIdentifier")) for item in failures])
    return response


def invoked_envelopes(event: dict[str, Any]) -> list[Envelope]:
    """The envelopes of an scf-backend invocation event; [] for any other event."""
    records = event.get("Records")
    if not isinstance(records, list) or not records:
        return []
    if not all(isinstance(record, dict) and "RetouchQueue" in record for record in records):
        return []
    return [Envelope.from_record(record["RetouchQueue"]) for record in records]


def _record(record: Any) -> InboundMessage:
    if isinstance(record, dict) and "RetouchQueue" in record:
        envelope = Envelope.from_record(record["RetouchQueue"])
        return _message(envelope.msgId, envelope.queue, envelope.msgBody)
    if isinstance(record, dict) and isinstance(record.get("CMQ"), dict):
        cmq = record["CMQ"]
        source = cmq.get("topicName") or cmq.get("queueName")
        return _message(cmq.get("msgId"), source, cmq.get("msgBody"))
    if isinstance(record, dict) and isinstance(record.get("Ckafka"), dict):
        kafka = record["Ckafka"]
        message_id = f"{kafka.get('topic')}:{kafka.get('partition')}:{kafka.get('offset')}"
        return _message(message_id, kafka.get("topic"), kafka.get("msgBody"))
    raise UnknownEventShape("a record is neither CMQ, CKafka nor RetouchQueue")


def _message(message_id: Any, source: Any, body: Any) -> InboundMessage:
    if not isinstance(message_id, str) or not isinstance(body, str):
        raise InvalidMessage("a trigger record needs a string msgId and msgBody")
    return InboundMessage(id=message_id, source=str(source or ""), body=decode_body(body))
