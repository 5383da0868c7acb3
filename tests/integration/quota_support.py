"""Helpers of the quota tests: fresh users with accounts, a settable clock, the invariants."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from retouch.core.db import Database
from retouch.core.ids import new_public_id
from retouch.core.time import utc_now
from retouch.quota import reservations
from retouch.quota.service import open_account
from retouch.users.repository import MySQLUserRepository


@dataclass
class FakeClock:
    """A `Clock` that stands still until a test moves it."""

    now: datetime = field(default_factory=utc_now)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def at(year: int, month: int, day: int, hour: int = 12) -> datetime:
    return datetime(year, month, day, hour, tzinfo=timezone.utc)


def new_ref(prefix: str = "task") -> str:
    return f"{prefix}:{secrets.token_hex(8)}"


def new_user(database: Database, *, clock: FakeClock | None = None) -> int:
    """A fresh user row with its quota account opened (default plan, first credits)."""
    clock = clock or FakeClock()
    with database.unit_of_work() as uow:
        user = MySQLUserRepository(uow).add(
            public_id=new_public_id("usr"),
            email=f"quota-{secrets.token_hex(8)}@example.test",
            password_hash="-",  # never signs in
            now=clock(),
            verified=True,
        )
        open_account(uow=uow, user_id=user.id, clock=clock)
        uow.commit()
    return user.id


def spend_down_to(
    database: Database, user_id: int, balance: int, *, clock: FakeClock | None = None
) -> None:
    """Reserve and charge whatever the balance holds above `balance`."""
    excess = account_of(database, user_id)["balance"] - balance
    assert excess >= 0
    if excess:
        ref = new_ref("spend")
        reservations.reserve(
            database=database,
            user_id=user_id,
            amount=excess,
            task_ref=ref,
            clock=clock or utc_now,
        )
        reservations.charge(database=database, task_ref=ref)


def account_of(database: Database, user_id: int) -> dict[str, int]:
    with database.unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT balance, reserved FROM quota_accounts WHERE user_id = %s", (user_id,)
        )
    assert row is not None
    return {"balance": int(row["balance"]), "reserved": int(row["reserved"])}


def ledger_kinds(database: Database, user_id: int) -> list[tuple[str, int]]:
    """(kind, amount) of the user's ledger, oldest first."""
    with database.unit_of_work() as uow:
        rows = uow.fetch_all(
            "SELECT kind, amount FROM quota_ledger WHERE user_id = %s ORDER BY id", (user_id,)
        )
    return [(row["kind"], int(row["amount"])) for row in rows]


def assert_ledger_matches(database: Database, user_id: int) -> None:
    """The invariants: the ledger sums to the balance, every balance_after chains from the
    previous one, nothing went negative, and `reserved` is what open reservations hold."""
    with database.unit_of_work() as uow:
        rows = uow.fetch_all(
            "SELECT amount, balance_after FROM quota_ledger WHERE user_id = %s ORDER BY id",
            (user_id,),
        )
        held = uow.fetch_one(
            "SELECT COALESCE(SUM(amount), 0) AS held FROM quota_reservations "
            "WHERE user_id = %s AND status = 'reserved'",
            (user_id,),
        )
    account = account_of(database, user_id)
    running = 0
    for row in rows:
        running += int(row["amount"])
        assert int(row["balance_after"]) == running, "balance_after does not chain"
        assert running >= 0
    assert running == account["balance"], f"ledger sums to {running}, balance is {account}"
    assert held is not None and int(held["held"]) == account["reserved"]
