"""The audit log in memory: entries in the order they were written, read back as the SQL
adapter reads them (filters, newest first by created_at then id, after a keyset position)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timezone

from retouch.audit.schemas import AuditEntry, AuditFilter, AuditRecord

_FIXED = datetime(2030, 1, 1, tzinfo=timezone.utc)


class FakeAuditRepository:
    """`actors` maps internal user ids to public ids (the SQL joins `users`); `clock` stamps
    `created_at` (by default one instant for every row, so the id breaks every tie)."""

    def __init__(
        self,
        *,
        actors: Mapping[int, str] | None = None,
        clock: Callable[[], datetime] = lambda: _FIXED,
    ) -> None:
        self.entries: list[AuditEntry] = []
        self._stamps: list[datetime] = []
        self._actors = dict(actors or {})
        self._clock = clock

    def add(self, entry: AuditEntry) -> None:
        self.entries.append(entry)
        self._stamps.append(self._clock())

    def page(
        self, *, where: AuditFilter, after: tuple[datetime, int] | None, limit: int
    ) -> list[AuditRecord]:
        records = [self._record(index) for index in range(len(self.entries))]
        kept = [
            record
            for record in records
            if _kept(record, where) and (after is None or (record.created_at, record.id) < after)
        ]
        kept.sort(key=lambda record: (record.created_at, record.id), reverse=True)
        return kept[:limit]

    def _record(self, index: int) -> AuditRecord:
        entry = self.entries[index]
        return AuditRecord(
            id=index + 1,
            actor=None if entry.actor_user_id is None else self._actors[entry.actor_user_id],
            action=entry.action,
            target_type=entry.target_type,
            target_id=entry.target_id,
            before=entry.before,
            after=entry.after,
            request_id=entry.request_id,
            client_request_id=entry.client_request_id,
            created_at=self._stamps[index],
        )


def _kept(record: AuditRecord, where: AuditFilter) -> bool:
    return (
        (where.actor is None or record.actor == where.actor)
        and (where.action is None or record.action == where.action)
        and (where.target_type is None or record.target_type == where.target_type)
        and (where.target_id is None or record.target_id == where.target_id)
        and (where.since is None or record.created_at >= where.since)
        and (where.until is None or record.created_at < where.until)
    )
