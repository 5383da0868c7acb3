"""The audit log: port and SQL. Rows are only ever inserted."""

from __future__ import annotations

import json
from typing import Any, Protocol

from retouch.audit.schemas import AuditEntry
from retouch.core.db import UnitOfWork
from retouch.core.units import sql_adapter


def _json(state: dict[str, Any] | None) -> str | None:
    return None if state is None else json.dumps(state, sort_keys=True, default=str)


class AuditRepository(Protocol):
    """Who changed what, with the state before and after; append-only."""

    def add(self, entry: AuditEntry) -> None: ...


@sql_adapter(AuditRepository)
class MySQLAuditRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, entry: AuditEntry) -> None:
        self._uow.execute(
            "INSERT INTO audit_logs (actor_user_id, action, target_type, target_id, "
            "before_state, after_state, request_id, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(3))",
            (
                entry.actor_user_id,
                entry.action,
                entry.target_type,
                entry.target_id,
                _json(entry.before),
                _json(entry.after),
                entry.request_id,
            ),
        )
