"""The audit log in memory: entries in the order they were written."""

from __future__ import annotations

from retouch.audit.schemas import AuditEntry


class FakeAuditRepository:
    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def add(self, entry: AuditEntry) -> None:
        self.entries.append(entry)
