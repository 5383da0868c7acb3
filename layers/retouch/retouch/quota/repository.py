"""SQL for plans, memberships, quota accounts, reservations and the ledger.

Repositories run parameterised statements in the caller's unit of work and never commit.
Methods that change rows report with a bool whether they did, so the service can build its
"exactly once" rules on row counts rather than on reads that could race.
"""

from __future__ import annotations

import json
from datetime import datetime

from retouch.core.db import Row, UnitOfWork
from retouch.core.time import from_db, to_db
from retouch.quota.schemas import (
    Account,
    LedgerEntryRead,
    LedgerKind,
    LedgerRow,
    Membership,
    PlanRead,
    PlanWrite,
    Reservation,
    SettledStatus,
)


def _plan(row: Row) -> PlanRead:
    return PlanRead.model_validate({**row, "features": json.loads(row["features"])})


class MySQLPlanRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def upsert(self, plan: PlanWrite) -> None:
        self._uow.execute(
            "INSERT INTO plans (code, name, monthly_credits, features, priority) "
            "VALUES (%s, %s, %s, %s, %s) "
            "ON DUPLICATE KEY UPDATE name = VALUES(name), "
            "monthly_credits = VALUES(monthly_credits), features = VALUES(features), "
            "priority = VALUES(priority)",
            (plan.code, plan.name, plan.monthly_credits, json.dumps(plan.features), plan.priority),
        )

    def list(self) -> list[PlanRead]:
        rows = self._uow.fetch_all(
            "SELECT code, name, monthly_credits, features, priority FROM plans "
            "ORDER BY priority, code"
        )
        return [_plan(row) for row in rows]

    def get(self, code: str) -> PlanRead | None:
        row = self._uow.fetch_one(
            "SELECT code, name, monthly_credits, features, priority FROM plans WHERE code = %s",
            (code,),
        )
        return None if row is None else _plan(row)


class MySQLMembershipRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(
        self, *, user_id: int, plan_code: str, starts_at: datetime, expires_at: datetime | None
    ) -> None:
        self._uow.execute(
            "INSERT INTO memberships (user_id, plan_code, starts_at, expires_at) "
            "VALUES (%s, %s, %s, %s)",
            (
                user_id,
                plan_code,
                to_db(starts_at),
                None if expires_at is None else to_db(expires_at),
            ),
        )

    def current(self, *, user_id: int, at: datetime) -> Membership | None:
        """The membership in force at `at` with the highest-priority plan (latest start
        breaks ties)."""
        moment = to_db(at)
        row = self._uow.fetch_one(
            "SELECT p.code, p.name, p.monthly_credits, p.features, p.priority, m.expires_at "
            "FROM memberships m JOIN plans p ON p.code = m.plan_code "
            "WHERE m.user_id = %s AND m.starts_at <= %s "
            "AND (m.expires_at IS NULL OR m.expires_at > %s) "
            "ORDER BY p.priority DESC, m.starts_at DESC LIMIT 1",
            (user_id, moment, moment),
        )
        if row is None:
            return None
        expires_at = row.pop("expires_at")
        return Membership(
            plan=_plan(row), expires_at=None if expires_at is None else from_db(expires_at)
        )


def _account(row: Row) -> Account:
    return Account(
        user_id=int(row["user_id"]),
        balance=int(row["balance"]),
        reserved=int(row["reserved"]),
        period_start=from_db(row["period_start"]),
        period_end=from_db(row["period_end"]),
    )


_ACCOUNT_SELECT = (
    "SELECT user_id, balance, reserved, period_start, period_end FROM quota_accounts "
    "WHERE user_id = %s"
)


class MySQLAccountRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, *, user_id: int, period_start: datetime, period_end: datetime) -> None:
        """An empty account; credits arrive through `add_credits` and its ledger row."""
        self._uow.execute(
            "INSERT INTO quota_accounts (user_id, balance, reserved, period_start, period_end) "
            "VALUES (%s, 0, 0, %s, %s)",
            (user_id, to_db(period_start), to_db(period_end)),
        )

    def get(self, user_id: int, *, for_update: bool = False) -> Account | None:
        """The account; `for_update` locks it and reads the latest committed version."""
        sql = _ACCOUNT_SELECT + " FOR UPDATE" if for_update else _ACCOUNT_SELECT
        row = self._uow.fetch_one(sql, (user_id,))
        return None if row is None else _account(row)

    def take(self, *, user_id: int, amount: int, now: datetime) -> bool:
        """Move `amount` from balance to reserved if the balance covers it and the period
        has not ended (an ended period must roll over first)."""
        return (
            self._uow.execute(
                "UPDATE quota_accounts SET balance = balance - %s, reserved = reserved + %s "
                "WHERE user_id = %s AND balance >= %s AND period_end > %s",
                (amount, amount, user_id, amount, to_db(now)),
            )
            == 1
        )

    def release(self, *, user_id: int, reserved: int, returned: int) -> None:
        """Drop `reserved` credits from reserved, giving `returned` of them back."""
        self._uow.execute(
            "UPDATE quota_accounts SET reserved = reserved - %s, balance = balance + %s "
            "WHERE user_id = %s",
            (reserved, returned, user_id),
        )

    def add_credits(self, *, user_id: int, amount: int) -> None:
        self._uow.execute(
            "UPDATE quota_accounts SET balance = balance + %s WHERE user_id = %s",
            (amount, user_id),
        )

    def start_period(
        self, *, user_id: int, ended: datetime, start: datetime, end: datetime, top_up: int
    ) -> bool:
        """Begin the next period, unless another caller already did (`ended` is stale)."""
        return (
            self._uow.execute(
                "UPDATE quota_accounts SET period_start = %s, period_end = %s, "
                "balance = balance + %s WHERE user_id = %s AND period_end = %s",
                (to_db(start), to_db(end), top_up, user_id, to_db(ended)),
            )
            == 1
        )


def _reservation(row: Row) -> Reservation:
    return Reservation(
        task_ref=row["task_ref"],
        user_id=int(row["user_id"]),
        amount=int(row["amount"]),
        status=row["status"],
    )


class MySQLReservationRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, *, task_ref: str, user_id: int, amount: int, now: datetime) -> bool:
        """Insert the reservation; False (and nothing changed) when `task_ref` exists."""
        # A no-op update on a duplicate reports 0 affected rows (FOUND_ROWS is off).
        return (
            self._uow.execute(
                "INSERT INTO quota_reservations (task_ref, user_id, amount, created_at) "
                "VALUES (%s, %s, %s, %s) ON DUPLICATE KEY UPDATE task_ref = task_ref",
                (task_ref, user_id, amount, to_db(now)),
            )
            == 1
        )

    def get(self, task_ref: str) -> Reservation | None:
        """The latest committed version, locked (the caller's snapshot may be older)."""
        row = self._uow.fetch_one(
            "SELECT task_ref, user_id, amount, status FROM quota_reservations "
            "WHERE task_ref = %s FOR UPDATE",
            (task_ref,),
        )
        return None if row is None else _reservation(row)

    def delete(self, task_ref: str) -> None:
        self._uow.execute("DELETE FROM quota_reservations WHERE task_ref = %s", (task_ref,))

    def settle(self, *, task_ref: str, status: SettledStatus, now: datetime) -> bool:
        """Mark a still-reserved reservation settled; False if it was settled already."""
        return (
            self._uow.execute(
                "UPDATE quota_reservations SET status = %s, settled_at = %s "
                "WHERE task_ref = %s AND status = 'reserved'",
                (status, to_db(now), task_ref),
            )
            == 1
        )


_NO_ID_LIMIT = 2**63  # above every BIGINT UNSIGNED id we will ever issue


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
        left it (the account row is already locked by the update before)."""
        self._uow.execute(
            "INSERT INTO quota_ledger "
            "(user_id, kind, amount, balance_after, ref, reason, created_at) "
            "SELECT user_id, %s, %s, balance, %s, %s, %s FROM quota_accounts "
            "WHERE user_id = %s",
            (kind, amount, ref, reason, to_db(now), user_id),
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
