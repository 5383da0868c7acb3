"""The transactional outbox's rows: port and SQL. Parameterised statements in the caller's
unit of work; nothing here commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from retouch.core.db import UnitOfWork
from retouch.core.time import to_db
from retouch.core.units import sql_adapter
from retouch.queue.messages import decode_body


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    """One row of `outbox`: where it goes, what it says, and its delay."""

    id: int
    queue: str
    body: dict[str, Any]
    delay_s: int = 0


class OutboxRepository(Protocol):
    """Messages written with the transaction that makes them true, marked once published."""

    def add(self, *, queue: str, body: str, delay_s: int, now: datetime) -> int:
        """Store an unpublished message (`body` already encoded); return its id."""
        ...

    def claim_unpublished(self, *, created_before: datetime, limit: int) -> list[OutboxMessage]:
        """Up to `limit` unpublished messages created before `created_before`, oldest first,
        locked for this transaction; rows another transaction holds are skipped."""
        ...

    def mark_published(self, outbox_id: int, *, now: datetime) -> bool:
        """Mark an unpublished message published; False when it already was."""
        ...

    def mark_all_published(self, outbox_ids: Sequence[int], *, now: datetime) -> int:
        """Mark every unpublished message of `outbox_ids` published in one statement; how
        many were not already."""
        ...

    def count_unpublished(self, *, created_before: datetime) -> int:
        """How many unpublished messages were created before `created_before` (the backlog
        the relay left: rows it could not publish or did not reach)."""
        ...

    def record_failure(self, outbox_id: int, *, error: str) -> None:
        """Count a failed attempt to publish and keep what went wrong."""
        ...

    def purge_published(self, *, before: datetime, limit: int) -> int:
        """Delete up to `limit` messages published before `before`; return how many."""
        ...


@sql_adapter(OutboxRepository)
class MySQLOutboxRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, *, queue: str, body: str, delay_s: int, now: datetime) -> int:
        self._uow.execute(
            "INSERT INTO outbox (queue_name, body, delay_s, created_at) VALUES (%s, %s, %s, %s)",
            (queue, body, delay_s, to_db(now)),
        )
        return self._uow.last_insert_id()

    def claim_unpublished(self, *, created_before: datetime, limit: int) -> list[OutboxMessage]:
        rows = self._uow.fetch_all(
            "SELECT id, queue_name, body, delay_s FROM outbox "
            "WHERE published_at IS NULL AND created_at <= %s "
            "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED",
            (to_db(created_before), limit),
        )
        return [
            OutboxMessage(
                id=int(row["id"]),
                queue=row["queue_name"],
                body=decode_body(row["body"]),
                delay_s=int(row["delay_s"]),
            )
            for row in rows
        ]

    def mark_published(self, outbox_id: int, *, now: datetime) -> bool:
        return (
            self._uow.execute(
                "UPDATE outbox SET published_at = %s, attempts = attempts + 1 "
                "WHERE id = %s AND published_at IS NULL",
                (to_db(now), outbox_id),
            )
            == 1
        )

    def mark_all_published(self, outbox_ids: Sequence[int], *, now: datetime) -> int:
        if not outbox_ids:
            return 0
        return self._uow.execute(
            "UPDATE outbox SET published_at = %s, attempts = attempts + 1 "
            "WHERE id IN %s AND published_at IS NULL",
            (to_db(now), tuple(outbox_ids)),
        )

    def count_unpublished(self, *, created_before: datetime) -> int:
        row = self._uow.fetch_one(
            "SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NULL AND created_at <= %s",
            (to_db(created_before),),
        )
        return int(row["n"]) if row else 0

    def record_failure(self, outbox_id: int, *, error: str) -> None:
        self._uow.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = %s WHERE id = %s",
            (error[:255], outbox_id),
        )

    def purge_published(self, *, before: datetime, limit: int) -> int:
        return self._uow.execute(
            "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < %s LIMIT %s",
            (to_db(before), limit),
        )
