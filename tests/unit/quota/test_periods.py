"""Monthly periods roll over lazily: topped up to the plan's credits, once, never taken away."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from retouch.quota.repository import LedgerRepository, MembershipRepository
from retouch.quota.reservations import refund, reserve
from retouch.quota.service import get_quota, grant_credits
from tests.fakes.quota import FakeLedgerRepository
from tests.fakes.units import InMemoryDatabase
from tests.unit.quota.conftest import NOW, USER, at, utc

NEXT_MONTH = utc(2030, 6, 3)


def ledger(database: InMemoryDatabase) -> FakeLedgerRepository:
    fake = database.fakes[LedgerRepository]
    assert isinstance(fake, FakeLedgerRepository)
    return fake


def spend(database: InMemoryDatabase, amount: int) -> None:
    reserve(database=database, user_id=USER, amount=amount, task_ref=f"spend-{amount}", clock=at())


def test_a_period_holds_until_its_end(database: InMemoryDatabase) -> None:
    spend(database, 7)

    quota = get_quota(database=database, user_id=USER, clock=at(utc(2030, 5, 31, 23)))

    assert (quota.balance, quota.period_end) == (3, utc(2030, 6, 1))


def test_the_next_period_tops_the_balance_up_to_the_monthly_credits(
    database: InMemoryDatabase,
) -> None:
    spend(database, 7)

    quota = get_quota(database=database, user_id=USER, clock=at(NEXT_MONTH))

    assert (quota.balance, quota.period_end) == (10, utc(2030, 7, 1))
    last = ledger(database).lines[-1]
    assert (last.ref, last.entry.kind, last.entry.amount, last.entry.balance_after) == (
        "period:7:2030-06",
        "period_grant",
        7,
        10,
    )


def test_credits_above_the_allowance_are_kept_at_a_roll_over(database: InMemoryDatabase) -> None:
    with database.unit_of_work() as uow:
        grant_credits(uow=uow, user_id=USER, amount=15, reason="gift", ref="g1", clock=at())
        uow.commit()

    quota = get_quota(database=database, user_id=USER, clock=at(NEXT_MONTH))

    assert quota.balance == 25
    assert ledger(database).lines[-1].entry.amount == 0


@pytest.mark.parametrize(
    ("moment", "start", "end"),
    [
        (utc(2030, 9, 15), "2030-09", utc(2030, 10, 1)),
        (utc(2031, 1, 1), "2031-01", utc(2031, 2, 1)),
        (utc(2030, 12, 31, 23), "2030-12", utc(2031, 1, 1)),
    ],
)
def test_months_nobody_used_are_skipped_not_granted(
    database: InMemoryDatabase, moment: datetime, start: str, end: datetime
) -> None:
    spend(database, 10)

    quota = get_quota(database=database, user_id=USER, clock=at(moment))

    assert (quota.balance, quota.period_end) == (10, end)
    grants = [line for line in ledger(database).lines if line.entry.kind == "period_grant"]
    assert [line.ref for line in grants] == ["period:7:2030-05", f"period:7:{start}"]


def test_a_period_rolls_over_once(database: InMemoryDatabase) -> None:
    spend(database, 4)

    for _ in range(3):
        get_quota(database=database, user_id=USER, clock=at(NEXT_MONTH))

    assert get_quota(database=database, user_id=USER, clock=at(NEXT_MONTH)).balance == 10
    assert len(ledger(database).lines) == 3  # first grant, the reserve, one roll-over


def test_reserving_after_the_period_ended_rolls_it_over_first(
    database: InMemoryDatabase,
) -> None:
    spend(database, 10)

    reserve(database=database, user_id=USER, amount=6, task_ref="june", clock=at(NEXT_MONTH))

    quota = get_quota(database=database, user_id=USER, clock=at(NEXT_MONTH))
    assert (quota.balance, quota.reserved) == (4, 16)


def test_a_grant_after_the_period_ended_is_not_swallowed_by_the_top_up(
    database: InMemoryDatabase,
) -> None:
    spend(database, 7)

    with database.unit_of_work() as uow:
        balance = grant_credits(
            uow=uow, user_id=USER, amount=50, reason="gift", ref="g1", clock=at(NEXT_MONTH)
        )
        uow.commit()

    assert balance == 60
    assert [line.entry.kind for line in ledger(database).lines][-2:] == ["period_grant", "grant"]


def test_the_roll_over_grants_the_current_plans_credits(database: InMemoryDatabase) -> None:
    with database.unit_of_work() as uow:
        uow.repository(MembershipRepository).add(
            user_id=USER,
            plan_code="pro",
            starts_at=NOW,
            expires_at=NOW + timedelta(days=90),
        )
        uow.commit()

    quota = get_quota(database=database, user_id=USER, clock=at(NEXT_MONTH))

    assert (quota.balance, quota.plan) == (100, "pro")
    assert ledger(database).lines[-1].entry.reason == "pro plan, 2030-06"


def test_reading_the_quota_in_the_period_changes_nothing(database: InMemoryDatabase) -> None:
    get_quota(database=database, user_id=USER, clock=at())

    assert database.commits == 1  # the account's opening only


def test_a_roll_over_leaves_reserved_credits_alone(database: InMemoryDatabase) -> None:
    spend(database, 4)

    quota = get_quota(database=database, user_id=USER, clock=at(NEXT_MONTH))

    assert (quota.balance, quota.reserved) == (10, 4)


def test_a_refund_after_the_roll_over_is_kept_above_the_allowance(
    database: InMemoryDatabase,
) -> None:
    spend(database, 4)
    get_quota(database=database, user_id=USER, clock=at(NEXT_MONTH))

    refund(database=database, task_ref="spend-4", clock=at(NEXT_MONTH))

    assert get_quota(database=database, user_id=USER, clock=at(NEXT_MONTH)).balance == 14
