"""SQS records as the queue's own messages: our id from the `retouch-id` attribute, the
delivery count and sent time from SQS's system attributes."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from retouch.queue import messages
from retouch.queue.messages import DeadMessage, QueueMessage

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

#: The message attribute that carries our message id.
ID_ATTRIBUTE = "retouch-id"


def message_id(raw: MessageTypeDef) -> str:
    """Our id, or SQS's for a message someone else sent (the console, a test tool)."""
    attribute = raw.get("MessageAttributes", {}).get(ID_ATTRIBUTE)
    own = attribute.get("StringValue") if attribute else None
    return own or raw.get("MessageId", "")


def queue_message(raw: MessageTypeDef) -> QueueMessage:
    attributes = raw.get("Attributes", {})
    return QueueMessage(
        id=message_id(raw),
        body=messages.decode_body(raw.get("Body", "")),
        delivery_count=int(attributes.get("ApproximateReceiveCount", 1)),
        sent_at_ms=int(attributes.get("SentTimestamp", 0)),
    )


def dead_message(raw: MessageTypeDef) -> DeadMessage:
    message = queue_message(raw)
    # The receive count includes this listing's own receive; SQS does not say when the
    # message moved to the dead-letter queue (dead_at_ms 0: unknown).
    return DeadMessage(
        message=replace(message, delivery_count=max(1, message.delivery_count - 1)),
        dead_at_ms=0,
        dead_letter_id=raw.get("MessageId", ""),
    )
