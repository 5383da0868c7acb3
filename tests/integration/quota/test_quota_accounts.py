"""Accounts, plans and periods: the first credits, admin grants, lazy monthly top-ups."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from retouch.core.db import Database, get_database
from retouch.core.settings import get_settings
from retouch.quota.errors import QuotaAccountNotFound, RefReused
from retouch.quota.repository import MySQLMembershipRepository
from retouch.quota.reservations import reserve
from retouch.quota.service import get_quota, grant_credits
from tests.conftest import Stack
from tests.integration.quota_support import (
    FakeClock,
    account_of,
    assert_ledger_matches,
    at,
    ledger_kinds,
    new_ref,
    new_user,
    spend_down_to,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def database(stack: Stack) -> Database:
    return get_database()


def grant(database: Database, user_id: int, amount: int, ref: str, clock: FakeClock) -> int:
    with database.unit_of_work() as uow:
        balance = grant_credits(
            uow=uow, user_id=user_id, amount=amount, reason="support", ref=ref, clock=clock
        )
        uow.commit()
    return balance


def test_a_new_account_holds_the_free_plan_and_its_monthly_credits(database: Database) -> None:
    clock = FakeClock(at(2030, 3, 17))
    user_id = new_user(database, clock=clock)

    quota = get_quota(database=database, user_id=user_id, clock=clock)

    assert (quota.balance, quota.reserved, quota.plan) == (100, 0, "free")
    assert quota.period_end == datetime(2030, 4, 1, tzinfo=timezone.utc)
    assert ledger_kinds(database, user_id) == [("period_grant", 100)]
    assert_ledger_matches(database, user_id)


def test_quota_of_a_user_without_an_account_is_not_found(database: Database) -> None:
    with pytest.raises(QuotaAccountNotFound):
        get_quota(database=database, user_id=2**40)


def test_an_admin_grant_adds_credits_once_per_ref(database: Database) -> None:
    clock = FakeClock()
    user_id = new_user(database, clock=clock)
    ref = new_ref("grant")

    first = grant(database, user_id, 25, ref, clock)
    again = grant(database, user_id, 25, ref, clock)

    assert (first, again) == (125, 125)
    assert ledger_kinds(database, user_id)[-1] == ("grant", 25)
    assert len(ledger_kinds(database, user_id)) == 2
    assert_ledger_matches(database, user_id)


def test_a_grant_never_waits_for_another_users_open_grant_beside_its_ref(stack: Stack) -> None:
    # GIVEN a grant to one user left open, and a second connection that waits 1 s at most
    first, second = Database(get_settings(), "job"), Database(get_settings(), "job")
    users = [new_user(first), new_user(first)]
    with second.connection().cursor() as cursor:
        cursor.execute("SET SESSION innodb_lock_wait_timeout = 1")
    ref = new_ref("gap")  # two refs with no key between them: one gap of the ledger's key
    clock = FakeClock()
    try:
        with first.unit_of_work() as held:
            grant_credits(uow=held, user_id=users[0], amount=5, reason="t", ref=f"{ref}:1")

            # WHEN another user's grant goes into the same gap meanwhile
            balance = grant(second, users[1], 7, f"{ref}:2", clock)
            held.commit()
    finally:
        first.close()
        second.close()

    # THEN it committed without waiting (a lock wait would have ended in 1205), and both count
    assert balance == 107
    assert [ledger_kinds(get_database(), user)[-1] for user in users] == [
        ("grant", 5),
        ("grant", 7),
    ]


def test_a_grant_ref_reused_for_other_credits_is_refused(database: Database) -> None:
    clock = FakeClock()
    user_id, other_id = new_user(database, clock=clock), new_user(database, clock=clock)
    ref = new_ref("grant")
    grant(database, user_id, 25, ref, clock)

    with pytest.raises(RefReused):
        grant(database, user_id, 30, ref, clock)
    with pytest.raises(RefReused):
        grant(database, other_id, 25, ref, clock)

    assert account_of(database, other_id)["balance"] == 100


def test_a_new_period_tops_the_balance_up_to_the_monthly_credits(database: Database) -> None:
    clock = FakeClock(at(2030, 1, 20))
    user_id = new_user(database, clock=clock)
    spend_down_to(database, user_id, 30, clock=clock)

    clock.now = at(2030, 2, 3)
    quota = get_quota(database=database, user_id=user_id, clock=clock)

    assert quota.balance == 100
    assert quota.period_end == datetime(2030, 3, 1, tzinfo=timezone.utc)
    assert ledger_kinds(database, user_id)[-1] == ("period_grant", 70)
    assert_ledger_matches(database, user_id)


def test_credits_above_the_allowance_survive_the_new_period(database: Database) -> None:
    clock = FakeClock(at(2030, 1, 20))
    user_id = new_user(database, clock=clock)
    grant(database, user_id, 50, new_ref("grant"), clock)

    clock.now = at(2030, 2, 3)
    quota = get_quota(database=database, user_id=user_id, clock=clock)

    assert quota.balance == 150
    assert ledger_kinds(database, user_id)[-1] == ("period_grant", 0)
    assert_ledger_matches(database, user_id)


def test_a_grant_after_the_period_ended_rolls_the_period_over_first(database: Database) -> None:
    clock = FakeClock(at(2030, 1, 20))
    user_id = new_user(database, clock=clock)
    spend_down_to(database, user_id, 0, clock=clock)

    clock.now = at(2030, 2, 3)
    balance = grant(database, user_id, 50, new_ref("grant"), clock)

    # the top-up came first, so the grant is not swallowed by it
    assert balance == 150
    assert [kind for kind, _ in ledger_kinds(database, user_id)][-2:] == ["period_grant", "grant"]
    assert_ledger_matches(database, user_id)


def test_the_first_reserve_of_a_new_period_grants_it(database: Database) -> None:
    clock = FakeClock(at(2030, 1, 20))
    user_id = new_user(database, clock=clock)
    spend_down_to(database, user_id, 0, clock=clock)

    clock.now = at(2030, 2, 1, hour=0)
    assert reserve(database=database, user_id=user_id, amount=40, task_ref=new_ref(), clock=clock)

    assert account_of(database, user_id) == {"balance": 60, "reserved": 40}
    assert ledger_kinds(database, user_id)[-2:] == [("period_grant", 100), ("reserve", -40)]
    assert_ledger_matches(database, user_id)


def test_idle_months_are_skipped_not_granted(database: Database) -> None:
    clock = FakeClock(at(2030, 1, 20))
    user_id = new_user(database, clock=clock)
    spend_down_to(database, user_id, 0, clock=clock)

    clock.now = at(2030, 6, 9)
    quota = get_quota(database=database, user_id=user_id, clock=clock)

    assert quota.balance == 100
    assert quota.period_end == datetime(2030, 7, 1, tzinfo=timezone.utc)
    assert [kind for kind, _ in ledger_kinds(database, user_id)].count("period_grant") == 2


def test_the_highest_priority_membership_in_force_sets_the_plan(database: Database) -> None:
    clock = FakeClock(at(2030, 1, 20))
    user_id = new_user(database, clock=clock)
    with database.unit_of_work() as uow:
        MySQLMembershipRepository(uow).add(
            user_id=user_id, plan_code="pro", starts_at=at(2030, 1, 25), expires_at=at(2030, 3, 1)
        )
        uow.commit()

    clock.now = at(2030, 2, 2)
    in_pro = get_quota(database=database, user_id=user_id, clock=clock)
    spend_down_to(database, user_id, 0, clock=clock)
    clock.now = at(2030, 3, 2)
    back_in_free = get_quota(database=database, user_id=user_id, clock=clock)

    assert (in_pro.plan, in_pro.balance) == ("pro", 2000)
    assert (back_in_free.plan, back_in_free.balance) == ("free", 100)
    assert_ledger_matches(database, user_id)
