"""The queue port: what publishers, consumers and operators need from any queue."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, Literal, Protocol, runtime_checkable

from retouch.queue.depth import QueueDepth
from retouch.queue.messages import DeadMessage, Delivery

#: `redrive(queue, ALL)` moves every dead message back.
ALL: Literal["all"] = "all"


class QueuePort(Protocol):
    """At-least-once queues with visibility timeouts, delays and dead letters (SQS semantics)."""

    def publish(self, queue: str, body: dict[str, Any], *, delay_s: float = 0) -> str:
        """Send `body`; it becomes visible after `delay_s`. Returns the message id."""
        ...

    def receive(self, queue: str, *, max_messages: int = 10, wait_s: float = 0) -> list[Delivery]:
        """Up to `max_messages` visible messages, waiting up to `wait_s` for the first one.
        Each stays invisible to other consumers until acknowledged or its visibility ends."""
        ...

    def ack(self, delivery: Delivery) -> bool:
        """The message is done: it is never delivered again. False if it was already gone."""
        ...

    def retry_later(self, delivery: Delivery, delay_s: float = 0) -> bool:
        """Give the message back: it is delivered again after `delay_s` (SQS:
        ChangeMessageVisibility). It counts as one more delivery when it comes back."""
        ...

    def list_dead(self, queue: str, limit: int = 100) -> list[DeadMessage]:
        """The oldest `limit` messages of the queue's dead-letter store."""
        ...

    def redrive(self, queue: str, message_ids: Collection[str] | Literal["all"]) -> int:
        """Move the named dead messages (or ALL) back to the queue with a fresh delivery
        count; returns how many moved."""
        ...

    def depth(self, queue: str) -> QueueDepth:
        """What waits in the queue and its dead letters, without receiving anything
        (`retouch.queue.depth`)."""
        ...


@runtime_checkable
class BatchPublisher(Protocol):
    """A queue that sends many messages in one round trip (the outbox relay's batches)."""

    def publish_many(
        self, messages: Sequence[tuple[str, dict[str, Any], float]]
    ) -> list[str | Exception]:
        """Send each (queue, body, delay_s); for each, in order, its message id or the error
        that kept it from being sent (the others are sent all the same)."""
        ...


@runtime_checkable
class BatchAcknowledger(Protocol):
    """A queue that acknowledges many deliveries in one round trip (the local consumers)."""

    def ack_many(self, deliveries: Sequence[Delivery]) -> int:
        """`ack` of each delivery; how many were still there to acknowledge."""
        ...
