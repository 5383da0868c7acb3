"""The quota ledger: port and SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

import pymysql

from retouch.core.db import UnitOfWork
from retouch.core.db_connect import is_duplicate
from retouch.core.time import from_db, to_db
from retouch.core.units import sql_adapter
from retouch.quota.schemas import LedgerEntryRead, LedgerKind, LedgerRow


class LedgerRepository(Protocol):
    """One row per movement of a balance, carrying the signed amount and the balance after."""

    def add(
        self,
        *,
        user_id: int,
        kind: LedgerKind,
        amount: int,
        ref: str,
        reason: str | None,
        now: datetime,
    ) -> None:
        """Append a row whose balance_after is the account's balance as this transaction
        left it (nothing when the user has no account)."""
        ...

    def add_once(
        self,
        *,
        user_id: int,
        kind: LedgerKind,
        amount: int,
        balance_after: int,
        ref: str,
        reason: str | None,
        now: datetime,
    ) -> bool:
        """Append the row unless (ref, kind) has one already: False, and nothing written."""
        ...

    def add_settlement(self, *, ref: str, kind: LedgerKind, now: datetime) -> None:
        """Append the row of reservation `ref` settled (`charge`: 0, `refund`: its amount),
        its user and amount read from the reservation by the insert itself."""
        ...

    def find(self, *, ref: str, kind: LedgerKind) -> tuple[int, int] | None:
        """(user_id, amount) of the row written for (ref, kind)."""
        ...

    def page(self, *, user_id: int, before_id: int | None, limit: int) -> list[LedgerRow]:
        """Up to `limit` rows of the user, newest first, older than `before_id`."""
        ...


_NO_ID_LIMIT = 2**63  # above every BIGINT UNSIGNED id we will ever issue


@sql_adapter(LedgerRepository)
class MySQLLedgerRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(
        self,
        *,
        user_id: int,
        kind: LedgerKind,
        amount: int,
        ref: str,
        reason: str | None,
        now: datetime,
    ) -> None:
        """Append a row whose balance_after is the account's balance as this transaction
        left it (the account row is already locked by the update before): one row's
        `INSERT … VALUES`, which InnoDB treats as a simple insert (no table AUTO-INC lock held
        for the statement, as an `INSERT … SELECT` holds it under `innodb_autoinc_lock_mode` 1)."""
        self._uow.execute(
            "INSERT INTO quota_ledger "
            "(user_id, kind, amount, balance_after, ref, reason, created_at) VALUES "
            "(%s, %s, %s, (SELECT balance FROM quota_accounts WHERE user_id = %s), %s, %s, %s)",
            (user_id, kind, amount, user_id, ref, reason, to_db(now)),
        )

    def add_once(
        self,
        *,
        user_id: int,
        kind: LedgerKind,
        amount: int,
        balance_after: int,
        ref: str,
        reason: str | None,
        now: datetime,
    ) -> bool:
        """The insert alone decides "once" through the (ref, kind) key: a duplicate ends
        this statement only (InnoDB keeps the transaction), and no gap is held locked."""
        try:
            self._uow.execute(
                "INSERT INTO quota_ledger "
                "(user_id, kind, amount, balance_after, ref, reason, created_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (user_id, kind, amount, balance_after, ref, reason, to_db(now)),
            )
        except pymysql.err.IntegrityError as exc:
            if is_duplicate(exc, "uq_quota_ledger_ref_kind"):
                return False
            raise
        return True

    def add_settlement(self, *, ref: str, kind: LedgerKind, now: datetime) -> None:
        """`add` for a settled reservation without reading it first: its user, amount and
        account balance come from subqueries of the one row's `INSERT … VALUES` (both rows
        are locked by the settling update before)."""
        self._uow.execute(
            "INSERT INTO quota_ledger "
            "(user_id, kind, amount, balance_after, ref, reason, created_at) VALUES ("
            "(SELECT user_id FROM quota_reservations WHERE task_ref = %s), %s, "
            "(SELECT IF(%s, amount, 0) FROM quota_reservations WHERE task_ref = %s), "
            "(SELECT a.balance FROM quota_accounts a JOIN quota_reservations r "
            "ON a.user_id = r.user_id WHERE r.task_ref = %s), %s, NULL, %s)",
            (ref, kind, kind == "refund", ref, ref, ref, to_db(now)),
        )

    def find(self, *, ref: str, kind: LedgerKind) -> tuple[int, int] | None:
        """(user_id, amount) of the row written for (ref, kind), read locked and latest."""
        row = self._uow.fetch_one(
            "SELECT user_id, amount FROM quota_ledger WHERE ref = %s AND kind = %s FOR UPDATE",
            (ref, kind),
        )
        return None if row is None else (int(row["user_id"]), int(row["amount"]))

    def page(self, *, user_id: int, before_id: int | None, limit: int) -> list[LedgerRow]:
        """Up to `limit` rows of the user, newest first, older than `before_id`."""
        rows = self._uow.fetch_all(
            "SELECT id, kind, amount, balance_after, reason, created_at FROM quota_ledger "
            "WHERE user_id = %s AND id < %s ORDER BY id DESC LIMIT %s",
            (user_id, _NO_ID_LIMIT if before_id is None else before_id, limit),
        )
        return [
            LedgerRow(
                id=int(row["id"]),
                entry=LedgerEntryRead(
                    kind=row["kind"],
                    amount=int(row["amount"]),
                    balance_after=int(row["balance_after"]),
                    reason=row["reason"],
                    created_at=from_db(row["created_at"]),
                ),
            )
            for row in rows
        ]
