"""Accounts: opening one, admin grants, memberships, the quota read and plans."""

from __future__ import annotations

from datetime import timedelta

import pymysql
import pytest

from retouch.quota.errors import PlanNotConfigured, QuotaAccountNotFound, RefReused
from retouch.quota.repository import LedgerRepository, MembershipRepository, PlanRepository
from retouch.quota.schemas import PlanWrite
from retouch.quota.service import (
    get_membership,
    get_quota,
    grant_credits,
    load_plans,
    open_account,
)
from tests.fakes.quota import FakeLedgerRepository, quota_database
from tests.fakes.units import InMemoryDatabase
from tests.unit.quota.conftest import FREE, NOW, PRO, USER, at, utc


def ledger(database: InMemoryDatabase) -> FakeLedgerRepository:
    fake = database.fakes[LedgerRepository]
    assert isinstance(fake, FakeLedgerRepository)
    return fake


def grant(database: InMemoryDatabase, *, amount: int, ref: str, user_id: int = USER) -> int:
    with database.unit_of_work() as uow:
        balance = grant_credits(
            uow=uow, user_id=user_id, amount=amount, reason="support", ref=ref, clock=at()
        )
        uow.commit()
    return balance


def add_membership(database: InMemoryDatabase, plan: str, *, days: int | None) -> None:
    with database.unit_of_work() as uow:
        uow.repository(MembershipRepository).add(
            user_id=USER,
            plan_code=plan,
            starts_at=NOW - timedelta(days=1),
            expires_at=None if days is None else NOW + timedelta(days=days),
        )
        uow.commit()


def test_a_new_account_holds_the_default_plans_monthly_credits(
    database: InMemoryDatabase,
) -> None:
    quota = get_quota(database=database, user_id=USER, clock=at())

    assert (quota.balance, quota.reserved, quota.plan) == (10, 0, "free")
    assert quota.period_end == utc(2030, 6, 1)


def test_opening_an_account_writes_the_first_periods_grant(database: InMemoryDatabase) -> None:
    (line,) = ledger(database).lines

    assert (line.ref, line.entry.kind, line.entry.amount, line.entry.balance_after) == (
        "period:7:2030-05",
        "period_grant",
        10,
        10,
    )
    assert line.entry.reason == "free plan, 2030-05"


def test_an_account_is_opened_once_per_user(database: InMemoryDatabase) -> None:
    with database.unit_of_work() as uow, pytest.raises(pymysql.err.IntegrityError):
        open_account(uow=uow, user_id=USER, clock=at())

    assert get_quota(database=database, user_id=USER, clock=at()).balance == 10


def test_an_account_cannot_open_without_the_default_plan() -> None:
    database = quota_database(plans=[PRO])

    with database.unit_of_work() as uow, pytest.raises(PlanNotConfigured):
        open_account(uow=uow, user_id=USER, clock=at())


def test_the_quota_of_a_user_without_an_account_is_not_found(database: InMemoryDatabase) -> None:
    with pytest.raises(QuotaAccountNotFound):
        get_quota(database=database, user_id=USER + 1, clock=at())


def test_a_grant_adds_to_the_balance_and_the_ledger(database: InMemoryDatabase) -> None:
    balance = grant(database, amount=25, ref="ticket-1")

    assert balance == 35
    last = ledger(database).entries(USER)[-1]
    assert (last.kind, last.amount, last.balance_after, last.reason) == (
        "grant",
        25,
        35,
        "support",
    )


def test_a_grant_is_applied_once_per_ref(database: InMemoryDatabase) -> None:
    first = grant(database, amount=25, ref="ticket-1")
    second = grant(database, amount=25, ref="ticket-1")

    assert first == second == 35
    assert len(ledger(database).lines) == 2


@pytest.mark.parametrize(("user_id", "amount"), [(USER, 26), (USER + 1, 25)])
def test_a_grant_ref_reused_for_other_credits_is_refused(
    database: InMemoryDatabase, user_id: int, amount: int
) -> None:
    with database.unit_of_work() as uow:
        open_account(uow=uow, user_id=USER + 1, clock=at())
        uow.commit()
    grant(database, amount=25, ref="ticket-1")

    with pytest.raises(RefReused):
        grant(database, amount=amount, ref="ticket-1", user_id=user_id)

    assert get_quota(database=database, user_id=USER, clock=at()).balance == 35


@pytest.mark.parametrize("amount", [0, -5])
def test_a_grant_must_be_positive(database: InMemoryDatabase, amount: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        grant(database, amount=amount, ref="ticket-1")


def test_a_grant_to_a_user_without_an_account_is_not_found(database: InMemoryDatabase) -> None:
    with pytest.raises(QuotaAccountNotFound):
        grant(database, amount=5, ref="ticket-1", user_id=USER + 1)


def test_the_membership_is_the_default_plan_open_ended(database: InMemoryDatabase) -> None:
    with database.read_only() as uow:
        membership = get_membership(uow=uow, user_id=USER, clock=at())

    assert (membership.plan.code, membership.expires_at) == ("free", None)


def test_the_highest_priority_plan_in_force_is_the_membership(database: InMemoryDatabase) -> None:
    add_membership(database, "pro", days=30)

    with database.read_only() as uow:
        membership = get_membership(uow=uow, user_id=USER, clock=at())

    assert (membership.plan.code, membership.expires_at) == ("pro", NOW + timedelta(days=30))
    assert get_quota(database=database, user_id=USER, clock=at()).plan == "pro"


def test_an_expired_membership_falls_back_to_the_default_plan(database: InMemoryDatabase) -> None:
    add_membership(database, "pro", days=30)

    with database.read_only() as uow:
        later = get_membership(uow=uow, user_id=USER, clock=at(NOW + timedelta(days=30)))

    assert later.plan.code == "free"


def test_a_membership_of_an_unknown_plan_is_refused(database: InMemoryDatabase) -> None:
    with pytest.raises(pymysql.err.IntegrityError):
        add_membership(database, "gold", days=None)


def test_loading_plans_inserts_and_updates_them() -> None:
    database = quota_database(plans=[FREE])
    renamed = PlanWrite(code="free", name="Starter", monthly_credits=20, features=[], priority=0)

    count = load_plans(database=database, plans=[renamed, PRO])

    assert count == 2
    with database.read_only() as uow:
        plans = uow.repository(PlanRepository).list()
    assert [(plan.code, plan.name, plan.monthly_credits) for plan in plans] == [
        ("free", "Starter", 20),
        ("pro", "Pro", 100),
    ]


def test_of_two_plans_of_one_priority_the_latest_start_wins() -> None:
    twin = PlanWrite(code="twin", name="Twin", monthly_credits=1, features=[], priority=10)
    database = quota_database(plans=[FREE, PRO, twin])
    with database.unit_of_work() as uow:
        open_account(uow=uow, user_id=USER, clock=at())
        memberships = uow.repository(MembershipRepository)
        memberships.add(
            user_id=USER, plan_code="pro", starts_at=NOW - timedelta(days=2), expires_at=None
        )
        memberships.add(
            user_id=USER, plan_code="twin", starts_at=NOW - timedelta(days=1), expires_at=None
        )
        uow.commit()

    with database.read_only() as uow:
        assert get_membership(uow=uow, user_id=USER, clock=at()).plan.code == "twin"


def test_a_membership_starting_later_is_not_yet_in_force(database: InMemoryDatabase) -> None:
    with database.unit_of_work() as uow:
        uow.repository(MembershipRepository).add(
            user_id=USER, plan_code="pro", starts_at=NOW + timedelta(days=1), expires_at=None
        )
        uow.commit()

    with database.read_only() as uow:
        assert get_membership(uow=uow, user_id=USER, clock=at()).plan.code == "free"
