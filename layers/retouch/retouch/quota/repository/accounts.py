"""Quota accounts and reservations: ports and SQL."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from retouch.core.db import Row, UnitOfWork
from retouch.core.time import from_db, to_db
from retouch.core.units import sql_adapter
from retouch.quota.schemas import Account, Reservation, SettledStatus


class AccountRepository(Protocol):
    """A user's credits: spendable `balance` and `reserved`, and the current period."""

    def add(
        self, *, user_id: int, period_start: datetime, period_end: datetime, period_grants: bool
    ) -> None:
        """An empty account; credits arrive through `add_credits` and its ledger row. Without
        `period_grants` a new period brings no credits until `open_period_grants`."""
        ...

    def open_period_grants(self, user_id: int) -> bool:
        """Let new periods top the balance up; False when they already did."""
        ...

    def get(self, user_id: int, *, for_update: bool = False) -> Account | None:
        """The account; `for_update` locks it and reads the latest committed version."""
        ...

    def take(self, *, user_id: int, amount: int, now: datetime) -> bool:
        """Move `amount` from balance to reserved if the balance covers it and the period
        has not ended; False (nothing changed) otherwise."""
        ...

    def add_credits(self, *, user_id: int, amount: int) -> None: ...

    def start_period(
        self, *, user_id: int, ended: datetime, start: datetime, end: datetime, top_up: int
    ) -> bool:
        """Begin the next period with `top_up` more credits, unless another caller already
        did (the period no longer ends at `ended`)."""
        ...


class ReservationRepository(Protocol):
    """Credits held for one task ref, settled (charged or refunded) once."""

    def add(self, *, task_ref: str, user_id: int, amount: int, now: datetime) -> bool:
        """Insert the reservation; False (and nothing changed) when `task_ref` exists."""
        ...

    def get(self, task_ref: str) -> Reservation | None:
        """The latest committed version, locked."""
        ...

    def delete(self, task_ref: str) -> None: ...

    def settle_and_release(self, *, task_ref: str, status: SettledStatus, now: datetime) -> bool:
        """Mark a still-reserved reservation settled and release its credits from the account's
        reserved (given back to the balance when `refunded`), in one statement; False, and
        nothing changed, unless it was still reserved and its account exists."""
        ...


def _account(row: Row) -> Account:
    return Account(
        user_id=int(row["user_id"]),
        balance=int(row["balance"]),
        reserved=int(row["reserved"]),
        period_start=from_db(row["period_start"]),
        period_end=from_db(row["period_end"]),
        period_grants=bool(row["period_grants"]),
    )


_ACCOUNT_SELECT = (
    "SELECT user_id, balance, reserved, period_start, period_end, period_grants "
    "FROM quota_accounts "
    "WHERE user_id = %s"
)


@sql_adapter(AccountRepository)
class MySQLAccountRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(
        self, *, user_id: int, period_start: datetime, period_end: datetime, period_grants: bool
    ) -> None:
        """An empty account; credits arrive through `add_credits` and its ledger row."""
        self._uow.execute(
            "INSERT INTO quota_accounts (user_id, balance, reserved, period_start, period_end, "
            "period_grants) VALUES (%s, 0, 0, %s, %s, %s)",
            (user_id, to_db(period_start), to_db(period_end), period_grants),
        )

    def open_period_grants(self, user_id: int) -> bool:
        """Let new periods top the balance up; False when they already did."""
        return (
            self._uow.execute(
                "UPDATE quota_accounts SET period_grants = 1 "
                "WHERE user_id = %s AND period_grants = 0",
                (user_id,),
            )
            == 1
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


@sql_adapter(ReservationRepository)
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

    def settle_and_release(self, *, task_ref: str, status: SettledStatus, now: datetime) -> bool:
        """One statement where there were two (the reservation's, then the account's): the
        reservation's row is locked first (its primary key), then its account's, in the same
        order as before; both rows change or neither, so 2 changed rows mean this call
        settled it."""
        return (
            self._uow.execute(
                "UPDATE quota_reservations r JOIN quota_accounts a ON a.user_id = r.user_id "
                "SET r.status = %s, r.settled_at = %s, a.reserved = a.reserved - r.amount, "
                "a.balance = a.balance + IF(%s, r.amount, 0) "
                "WHERE r.task_ref = %s AND r.status = 'reserved'",
                (status, to_db(now), status == "refunded", task_ref),
            )
            == 2
        )
