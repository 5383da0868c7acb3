"""The outbox in memory, keeping the rules of the SQL (`retouch.queue.repository`): ids in
insertion order, a message marked published once, only published messages purged; and a
queue that records what was published (or fails for the queues a test names)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, Literal

from retouch.queue.depth import QueueDepth
from retouch.queue.messages import DeadMessage, Delivery, decode_body
from retouch.queue.repository import OutboxMessage


@dataclasses.dataclass(frozen=True)
class OutboxRow:
    id: int
    queue: str
    body: str
    delay_s: int
    created_at: datetime
    published_at: datetime | None = None
    attempts: int = 0
    last_error: str | None = None


class FakeOutboxRepository:
    def __init__(self) -> None:
        self.rows: dict[int, OutboxRow] = {}
        self._last_id = 0  # AUTO_INCREMENT never reuses an id, even after a purge

    def add(self, *, queue: str, body: str, delay_s: int, now: datetime) -> int:
        self._last_id += 1
        self.rows[self._last_id] = OutboxRow(self._last_id, queue, body, delay_s, now)
        return self._last_id

    def claim_unpublished(self, *, created_before: datetime, limit: int) -> list[OutboxMessage]:
        due = [
            row
            for _, row in sorted(self.rows.items())
            if row.published_at is None and row.created_at <= created_before
        ]
        return [
            OutboxMessage(
                id=row.id, queue=row.queue, body=decode_body(row.body), delay_s=row.delay_s
            )
            for row in due[:limit]
        ]

    def mark_published(self, outbox_id: int, *, now: datetime) -> bool:
        row = self.rows.get(outbox_id)
        if row is None or row.published_at is not None:
            return False
        self.rows[outbox_id] = dataclasses.replace(row, published_at=now, attempts=row.attempts + 1)
        return True

    def mark_all_published(self, outbox_ids: Sequence[int], *, now: datetime) -> int:
        return sum(self.mark_published(outbox_id, now=now) for outbox_id in set(outbox_ids))

    def count_unpublished(self, *, created_before: datetime) -> int:
        return sum(
            1
            for row in self.rows.values()
            if row.published_at is None and row.created_at <= created_before
        )

    def record_failure(self, outbox_id: int, *, error: str) -> None:
        row = self.rows.get(outbox_id)
        if row is not None:
            self.rows[outbox_id] = dataclasses.replace(
                row, attempts=row.attempts + 1, last_error=error[:255]
            )

    def purge_published(self, *, before: datetime, limit: int) -> int:
        old = [
            row.id
            for _, row in sorted(self.rows.items())
            if row.published_at is not None and row.published_at < before
        ][:limit]
        for outbox_id in old:
            del self.rows[outbox_id]
        return len(old)

    def unpublished(self) -> list[OutboxRow]:
        return [row for row in self.rows.values() if row.published_at is None]


class QueueDown(Exception):
    """The recording queue's failure for the queues a test takes down."""


class RecordingQueue:
    """A `QueuePort` that keeps what was published, in order; publishing to a queue named in
    `down` raises QueueDown. Nothing is ever received."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, Any], float]] = []
        self.down: set[str] = set()

    def publish(self, queue: str, body: dict[str, Any], *, delay_s: float = 0) -> str:
        if queue in self.down:
            raise QueueDown(queue)
        self.published.append((queue, body, delay_s))
        return f"msg-{len(self.published)}"

    def receive(self, queue: str, *, max_messages: int = 10, wait_s: float = 0) -> list[Delivery]:
        return []

    def ack(self, delivery: Delivery) -> bool:
        return False

    def retry_later(self, delivery: Delivery, delay_s: float = 0) -> bool:
        return False

    def list_dead(self, queue: str, limit: int = 100) -> list[DeadMessage]:
        return []

    def redrive(self, queue: str, message_ids: Collection[str] | Literal["all"]) -> int:
        return 0

    def depth(self, queue: str) -> QueueDepth:
        return QueueDepth(waiting=sum(1 for sent in self.published if sent[0] == queue), dead=0)
