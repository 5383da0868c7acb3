"""The audit log: port and SQL. Rows are only ever inserted; admins read them newest first."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from retouch.audit.schemas import AuditEntry, AuditFilter, AuditRecord
from retouch.core.db import Row, UnitOfWork
from retouch.core.request_context import current_request_ids
from retouch.core.time import from_db, to_db
from retouch.core.units import sql_adapter

# The actor's public id comes from `users` (a read of ids only, as the caller lookup does):
# audit rows keep the internal id, which never leaves the server.
_SELECT = (
    "SELECT a.id, u.public_id AS actor, a.action, a.target_type, a.target_id, "
    "a.before_state, a.after_state, a.request_id, a.client_request_id, a.created_at "
    "FROM audit_logs a LEFT JOIN users u ON u.id = a.actor_user_id WHERE TRUE"
)
# One constant fragment per filter, in this order; every value is a parameter.
_ACTOR = " AND a.actor_user_id = (SELECT id FROM users WHERE public_id = %s)"
_ACTION = " AND a.action = %s"
_TARGET_TYPE = " AND a.target_type = %s"
_TARGET_ID = " AND a.target_id = %s"
_SINCE = " AND a.created_at >= %s"
_UNTIL = " AND a.created_at < %s"
_AFTER = " AND (a.created_at < %s OR (a.created_at = %s AND a.id < %s))"
_ORDER = " ORDER BY a.created_at DESC, a.id DESC LIMIT %s"


def _json(state: dict[str, Any] | None) -> str | None:
    return None if state is None else json.dumps(state, sort_keys=True, default=str)


def _state(value: str | bytes | None) -> dict[str, Any] | None:
    return None if value is None else dict(json.loads(value))


class AuditRepository(Protocol):
    """Who changed what, with the state before and after; append-only."""

    def add(self, entry: AuditEntry) -> None:
        """Insert `entry`; its request ids default to the current request's."""

    def page(
        self, *, where: AuditFilter, after: tuple[datetime, int] | None, limit: int
    ) -> list[AuditRecord]:
        """Rows kept by `where`, newest first (created_at, then id), after the keyset
        position `after`."""


@sql_adapter(AuditRepository)
class MySQLAuditRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, entry: AuditEntry) -> None:
        ids = current_request_ids()
        request_id = entry.request_id or (ids.server if ids else None)
        client_request_id = entry.client_request_id or (ids.client if ids else None)
        self._uow.execute(
            "INSERT INTO audit_logs (actor_user_id, action, target_type, target_id, "
            "before_state, after_state, request_id, client_request_id, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, UTC_TIMESTAMP(3))",
            (
                entry.actor_user_id,
                entry.action,
                entry.target_type,
                entry.target_id,
                _json(entry.before),
                _json(entry.after),
                request_id,
                client_request_id,
            ),
        )

    def page(
        self, *, where: AuditFilter, after: tuple[datetime, int] | None, limit: int
    ) -> list[AuditRecord]:
        sql = _SELECT
        params: list[object] = []
        for fragment, value in (
            (_ACTOR, where.actor),
            (_ACTION, where.action),
            (_TARGET_TYPE, where.target_type),
            (_TARGET_ID, where.target_id),
            (_SINCE, None if where.since is None else to_db(where.since)),
            (_UNTIL, None if where.until is None else to_db(where.until)),
        ):
            if value is not None:
                sql += fragment
                params.append(value)
        if after is not None:
            sql += _AFTER
            params.extend((to_db(after[0]), to_db(after[0]), after[1]))
        params.append(limit)
        return [_record(row) for row in self._uow.fetch_all(sql + _ORDER, tuple(params))]


def _record(row: Row) -> AuditRecord:
    return AuditRecord(
        id=int(row["id"]),
        actor=row["actor"],
        action=row["action"],
        target_type=row["target_type"],
        target_id=row["target_id"],
        before=_state(row["before_state"]),
        after=_state(row["after_state"]),
        request_id=row["request_id"],
        client_request_id=row["client_request_id"],
        created_at=from_db(row["created_at"]),
    )
