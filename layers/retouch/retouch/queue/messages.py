"""What travels through a queue: small JSON messages, their deliveries and dead letters."""

from __future__ import annotations

import json
import os
import re
import socket
import uuid
from dataclasses import dataclass
from typing import Any

#: SQS's limit; step messages are a few hundred bytes (`{task_id, step, attempt, ...}`).
MAX_BODY_BYTES = 262_144

#: SQS's longest delay, in seconds; every adapter keeps to it.
MAX_DELAY_S = 900

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")  # SQS's rule, so a name works on every platform


class QueueError(Exception):
    """Base of the queue's own failures (Redis errors pass through as redis-py raised them)."""


class InvalidQueueName(QueueError, ValueError):
    """A queue name is not 1-80 of [A-Za-z0-9_-] (SQS's rule)."""

    def __init__(self, queue: str) -> None:
        super().__init__(f"queue name {queue!r} must be 1-80 of [A-Za-z0-9_-]")
        self.queue = queue


class InvalidMessage(QueueError, ValueError):
    """A body is not a JSON object of at most MAX_BODY_BYTES, or a delay is out of range."""


class UnknownQueue(QueueError, LookupError):
    """The platform has no queue of this name (SQS queues and dead-letter queues are made by
    the deploy template, never by the code)."""

    def __init__(self, queue: str, platform_name: str) -> None:
        super().__init__(
            f"queue {queue!r} does not exist (looked for {platform_name!r}; "
            "check RETOUCH_QUEUE_NAME_PREFIX and the deployed queues)"
        )
        self.queue = queue
        self.platform_name = platform_name


class NotSupported(QueueError):
    """The adapter cannot do this operation on its platform (e.g. receiving where a trigger
    consumes the queue)."""


class UnknownEventShape(QueueError, ValueError):
    """A trigger event is none of the queue event shapes this package reads."""


def check_queue_name(queue: str) -> str:
    """`queue` itself, or InvalidQueueName."""
    if not _QUEUE_NAME.fullmatch(queue):
        raise InvalidQueueName(queue)
    return queue


def check_delay(delay_s: float) -> float:
    """`delay_s` itself, or InvalidMessage when it is outside 0-900 seconds (SQS's range)."""
    if not 0 <= delay_s <= MAX_DELAY_S:
        raise InvalidMessage(f"a delay is 0-{MAX_DELAY_S} seconds (SQS's limit)")
    return delay_s


def encode_body(body: dict[str, Any]) -> str:
    """The compact JSON text of a message body, refused when it is not small JSON."""
    if not isinstance(body, dict):
        raise InvalidMessage("a message body is a JSON object")
    try:
        text = json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidMessage(f"a message body must be JSON: {exc}") from None
    if len(text.encode()) > MAX_BODY_BYTES:
        raise InvalidMessage(f"a message body is at most {MAX_BODY_BYTES} bytes")
    return text


def decode_body(text: str) -> dict[str, Any]:
    """A body as stored or as a trigger carried it; InvalidMessage when it is not an object."""
    try:
        body = json.loads(text)
    except ValueError:
        raise InvalidMessage("a message body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidMessage("a message body is a JSON object")
    return body


def new_message_id() -> str:
    """A message id that stays the same through delays, redeliveries and redrives."""
    return uuid.uuid4().hex


def new_consumer_name() -> str:
    """A name for this process's consumer: host, process id and a random suffix."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True, slots=True)
class QueueMessage:
    """One message: its stable id, its body and how often it has been delivered (1 = first)."""

    id: str
    body: dict[str, Any]
    delivery_count: int
    sent_at_ms: int


@dataclass(frozen=True, slots=True)
class Delivery:
    """A message handed to one consumer; `receipt` names this delivery for ack and retry."""

    queue: str
    receipt: str
    consumer: str
    message: QueueMessage


@dataclass(frozen=True, slots=True)
class DeadMessage:
    """A message in a dead-letter stream (its `delivery_count`: deliveries never acknowledged),
    when it died and its entry there."""

    message: QueueMessage
    dead_at_ms: int
    dead_letter_id: str
