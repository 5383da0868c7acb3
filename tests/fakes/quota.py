"""In-memory plans, memberships, accounts, reservations and ledger, keeping the rules of the
SQL (`retouch.quota.repository`) and of the table constraints (migration 0004): a balance or
reserved count never below zero, a reservation settled once, (ref, kind) written once to the
ledger, a ledger row only for an account that exists.

    database = quota_database(plans=[free_plan])
    with database.unit_of_work() as uow:
        open_account(uow=uow, user_id=7, clock=clock)

The ledger reads balances from the accounts fake and memberships read plans from the plans
fake, as the SQL joins those tables; `quota_database` wires them together.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Any

from retouch.quota.repository import (
    AccountRepository,
    LedgerRepository,
    MembershipRepository,
    PlanRepository,
    ReservationRepository,
)
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
from tests.fakes.tables import SharedTable, constraint_violated
from tests.fakes.units import InMemoryDatabase


class FakePlanRepository(SharedTable):
    def __init__(self, plans: list[PlanWrite] | None = None) -> None:
        self.plans: dict[str, PlanRead] = {}
        for plan in plans or []:
            self.upsert(plan)

    def upsert(self, plan: PlanWrite) -> None:
        self.plans[plan.code] = PlanRead.model_validate(plan.model_dump())

    def list(self) -> list[PlanRead]:
        return sorted(self.plans.values(), key=lambda plan: (plan.priority, plan.code))

    def get(self, code: str) -> PlanRead | None:
        return self.plans.get(code)


@dataclasses.dataclass(frozen=True)
class MembershipRow:
    user_id: int
    plan_code: str
    starts_at: datetime
    expires_at: datetime | None


class FakeMembershipRepository:
    def __init__(self, plans: FakePlanRepository) -> None:
        self.plans = plans
        self.rows: list[MembershipRow] = []

    def add(
        self, *, user_id: int, plan_code: str, starts_at: datetime, expires_at: datetime | None
    ) -> None:
        if plan_code not in self.plans.plans:
            raise constraint_violated("fk_memberships_plan")
        if expires_at is not None and expires_at <= starts_at:
            raise constraint_violated("ck_memberships_period")
        self.rows.append(MembershipRow(user_id, plan_code, starts_at, expires_at))

    def current(self, *, user_id: int, at: datetime) -> Membership | None:
        in_force = [
            (self.plans.plans[row.plan_code], row)
            for row in self.rows
            if row.user_id == user_id
            and row.starts_at <= at
            and (row.expires_at is None or row.expires_at > at)
        ]
        if not in_force:
            return None
        plan, row = max(in_force, key=lambda found: (found[0].priority, found[1].starts_at))
        return Membership(plan=plan, expires_at=row.expires_at)

    def end(self, *, user_id: int, at: datetime, keep_plan: str) -> int:
        kept, ended = [], 0
        for row in self.rows:
            mine = row.user_id == user_id and row.plan_code != keep_plan
            if mine and row.starts_at >= at:
                continue
            if mine and (row.expires_at is None or row.expires_at > at):
                row, ended = dataclasses.replace(row, expires_at=at), ended + 1
            kept.append(row)
        self.rows = kept
        return ended


class FakeAccountRepository(SharedTable):
    def __init__(self) -> None:
        self.accounts: dict[int, Account] = {}

    def add(
        self, *, user_id: int, period_start: datetime, period_end: datetime, period_grants: bool
    ) -> None:
        if user_id in self.accounts:
            raise constraint_violated("PRIMARY")
        self._store(Account(user_id, 0, 0, period_start, period_end, period_grants))

    def open_period_grants(self, user_id: int) -> bool:
        account = self.accounts.get(user_id)
        if account is None or account.period_grants:
            return False
        self._store(dataclasses.replace(account, period_grants=True))
        return True

    def get(self, user_id: int, *, for_update: bool = False) -> Account | None:
        return self.accounts.get(user_id)

    def take(self, *, user_id: int, amount: int, now: datetime) -> bool:
        account = self.accounts.get(user_id)
        if account is None or account.balance < amount or account.period_end <= now:
            return False
        self.change(user_id, balance=-amount, reserved=amount)
        return True

    def add_credits(self, *, user_id: int, amount: int) -> None:
        self.change(user_id, balance=amount)

    def start_period(
        self, *, user_id: int, ended: datetime, start: datetime, end: datetime, top_up: int
    ) -> bool:
        account = self.accounts.get(user_id)
        if account is None or account.period_end != ended:
            return False
        self._store(dataclasses.replace(account, period_start=start, period_end=end))
        self.change(user_id, balance=top_up)
        return True

    def change(self, user_id: int, *, balance: int = 0, reserved: int = 0) -> None:
        account = self.accounts.get(user_id)
        if account is None:  # an UPDATE that matches no row
            return
        self._store(
            dataclasses.replace(
                account, balance=account.balance + balance, reserved=account.reserved + reserved
            )
        )

    def _store(self, account: Account) -> None:
        if account.balance < 0:
            raise constraint_violated("ck_quota_accounts_balance")
        if account.reserved < 0:
            raise constraint_violated("ck_quota_accounts_reserved")
        if account.period_end <= account.period_start:
            raise constraint_violated("ck_quota_accounts_period")
        self.accounts[account.user_id] = account


class FakeReservationRepository(SharedTable):
    def __init__(self, accounts: FakeAccountRepository) -> None:
        self.accounts = accounts
        self.reservations: dict[str, Reservation] = {}
        self.settled_at: dict[str, datetime] = {}

    def add(self, *, task_ref: str, user_id: int, amount: int, now: datetime) -> bool:
        if task_ref in self.reservations:
            return False
        if amount <= 0:
            raise constraint_violated("ck_quota_reservations_amount")
        self.reservations[task_ref] = Reservation(task_ref, user_id, amount, "reserved")
        return True

    def get(self, task_ref: str) -> Reservation | None:
        return self.reservations.get(task_ref)

    def delete(self, task_ref: str) -> None:
        self.reservations.pop(task_ref, None)

    def settle_and_release(self, *, task_ref: str, status: SettledStatus, now: datetime) -> bool:
        reservation = self.reservations.get(task_ref)
        if reservation is None or reservation.status != "reserved":
            return False
        if self.accounts.get(reservation.user_id) is None:  # the join matches no row
            return False
        returned = reservation.amount if status == "refunded" else 0
        self.accounts.change(reservation.user_id, balance=returned, reserved=-reservation.amount)
        self.reservations[task_ref] = dataclasses.replace(reservation, status=status)
        self.settled_at[task_ref] = now
        return True


@dataclasses.dataclass(frozen=True)
class LedgerLine:
    """A `quota_ledger` row (the fake keeps the ref the public entry leaves out)."""

    id: int
    user_id: int
    ref: str
    entry: LedgerEntryRead


class FakeLedgerRepository:
    def __init__(
        self, accounts: FakeAccountRepository, reservations: FakeReservationRepository
    ) -> None:
        self.accounts = accounts
        self.reservations = reservations
        self.lines: list[LedgerLine] = []

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
        account = self.accounts.get(user_id)
        if account is None:  # INSERT ... SELECT from no account row inserts nothing
            return
        if self.find(ref=ref, kind=kind) is not None:
            raise constraint_violated("uq_quota_ledger_ref_kind")
        entry = LedgerEntryRead(
            kind=kind, amount=amount, balance_after=account.balance, reason=reason, created_at=now
        )
        self.lines.append(LedgerLine(len(self.lines) + 1, user_id, ref, entry))

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
        if self.find(ref=ref, kind=kind) is not None:
            return False  # the duplicate key refuses this statement only
        entry = LedgerEntryRead(
            kind=kind, amount=amount, balance_after=balance_after, reason=reason, created_at=now
        )
        self.lines.append(LedgerLine(len(self.lines) + 1, user_id, ref, entry))
        return True

    def add_settlement(self, *, ref: str, kind: LedgerKind, now: datetime) -> None:
        reservation = self.reservations.get(ref)
        if reservation is None:  # the subqueries find no user: NOT NULL refuses the row
            raise constraint_violated("user_id")
        amount = reservation.amount if kind == "refund" else 0
        self.add(
            user_id=reservation.user_id, kind=kind, amount=amount, ref=ref, reason=None, now=now
        )

    def find(self, *, ref: str, kind: LedgerKind) -> tuple[int, int] | None:
        for line in self.lines:
            if (line.ref, line.entry.kind) == (ref, kind):
                return line.user_id, line.entry.amount
        return None

    def page(self, *, user_id: int, before_id: int | None, limit: int) -> list[LedgerRow]:
        older = [
            line
            for line in reversed(self.lines)
            if line.user_id == user_id and (before_id is None or line.id < before_id)
        ]
        return [LedgerRow(id=line.id, entry=line.entry) for line in older[:limit]]

    def entries(self, user_id: int) -> list[LedgerEntryRead]:
        """The user's rows, oldest first (for assertions)."""
        return [line.entry for line in self.lines if line.user_id == user_id]


def quota_fakes(*, plans: list[PlanWrite] | None = None) -> dict[type[Any], object]:
    """Every quota fake by its port, wired as the tables join."""
    plan_table = FakePlanRepository(plans)
    accounts = FakeAccountRepository()
    reservations = FakeReservationRepository(accounts)
    return {
        PlanRepository: plan_table,
        MembershipRepository: FakeMembershipRepository(plan_table),
        AccountRepository: accounts,
        ReservationRepository: reservations,
        LedgerRepository: FakeLedgerRepository(accounts, reservations),
    }


def quota_database(*, plans: list[PlanWrite] | None = None) -> InMemoryDatabase:
    """An in-memory database holding every quota fake."""
    return InMemoryDatabase(quota_fakes(plans=plans))
