"""The retention rules in SQL: which rows are past keeping, and their deletion by primary key.

Each rule selects the ids of its oldest expired rows through an index in index order (no
filesort, no scan past the cutoff: plans under test, tests/integration/plans), then deletes
exactly those ids in their own short transaction. A delete by primary-key values locks those
rows only (no gap or next-key lock on an index range), so writers of new rows never wait on
it; the condition is repeated in the delete, so a row changed since the select (an outbox row
not yet published, a token refreshed) is left alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from retouch.core.db import UnitOfWork
from retouch.core.time import to_db
from retouch.core.units import sql_adapter


@dataclass(frozen=True, slots=True)
class Rule:
    """A table's retention: `expired` is the condition on the cutoff (one `%s`), `order` the
    index order that finds the oldest rows first."""

    table: str
    expired: str
    order: str


OUTBOX = Rule("outbox", "published_at IS NOT NULL AND published_at < %s", "published_at, id")
REFRESH_TOKENS = Rule("refresh_tokens", "expires_at < %s", "expires_at, id")
AUDIT_LOGS = Rule("audit_logs", "created_at < %s", "created_at, id")
#: Mailed tokens: a used one is spent, an expired one refused, so each goes with its expiry.
EMAIL_VERIFICATIONS = Rule("email_verifications", "expires_at < %s", "expires_at, id")
PASSWORD_RESETS = Rule("password_resets", "expires_at < %s", "expires_at, id")

#: Every column: an archived row keeps whatever a later migration adds.
AUDIT_COLUMNS = "*"


class RetentionRepository(Protocol):
    """Expired rows of a rule, their deletion, and the run's lock."""

    def expired_ids(self, rule: Rule, *, before: datetime, limit: int) -> list[int]:
        """The ids of up to `limit` rows expired `before`, oldest first."""

    def delete(self, rule: Rule, ids: Sequence[int], *, before: datetime) -> int:
        """Delete those of `ids` still expired `before`; how many were."""

    def audit_rows(self, *, before: datetime, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` whole audit rows created before `before`, oldest first."""

    def try_lock(self, name: str) -> bool:
        """Take the named lock of this connection's session; False when another holds it."""

    def release_lock(self, name: str) -> None:
        """Give the named lock back."""


@sql_adapter(RetentionRepository)
class MySQLRetentionRepository:
    """The rules over MySQL/MariaDB; the lock is `GET_LOCK`, freed by the server if the
    connection dies."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def expired_ids(self, rule: Rule, *, before: datetime, limit: int) -> list[int]:
        rows = self._uow.fetch_all(
            f"SELECT id FROM {rule.table} WHERE {rule.expired} "  # noqa: S608 - fixed rules
            f"ORDER BY {rule.order} LIMIT %s",
            (to_db(before), limit),
        )
        return [int(row["id"]) for row in rows]

    def delete(self, rule: Rule, ids: Sequence[int], *, before: datetime) -> int:
        if not ids:
            return 0
        marks = ", ".join(["%s"] * len(ids))
        return self._uow.execute(
            f"DELETE FROM {rule.table} WHERE id IN ({marks}) AND {rule.expired}",  # noqa: S608
            (*ids, to_db(before)),
        )

    def audit_rows(self, *, before: datetime, limit: int) -> list[dict[str, Any]]:
        return self._uow.fetch_all(
            f"SELECT {AUDIT_COLUMNS} FROM audit_logs WHERE {AUDIT_LOGS.expired} "  # noqa: S608
            f"ORDER BY {AUDIT_LOGS.order} LIMIT %s",
            (to_db(before), limit),
        )

    def try_lock(self, name: str) -> bool:
        row = self._uow.fetch_one("SELECT GET_LOCK(%s, 0) AS got", (name,))
        return bool(row and row["got"] == 1)

    def release_lock(self, name: str) -> None:
        self._uow.fetch_one("SELECT RELEASE_LOCK(%s) AS released", (name,))
