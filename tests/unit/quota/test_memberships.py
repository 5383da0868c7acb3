"""Changing a plan (`retouch.quota.memberships.change_membership`) over the fakes: the new
plan is in force at once and until its expiry, then the default plan again; a downgrade ends
the others; bad plans and expiries change nothing; credits are never taken back."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from retouch.core.errors import ValidationFailed
from retouch.quota.memberships import change_membership
from retouch.quota.service import get_membership, get_quota
from tests.fakes.units import InMemoryDatabase
from tests.unit.quota.conftest import NOW, USER, at, utc


def change(
    database: InMemoryDatabase, plan: str, expires_at: datetime | None, *, when: datetime = NOW
) -> str:
    with database.unit_of_work() as uow:
        held = change_membership(
            uow=uow, user_id=USER, plan_code=plan, expires_at=expires_at, clock=at(when)
        )
        uow.commit()
    return held.plan.code


def plan_at(database: InMemoryDatabase, moment: datetime) -> tuple[str, datetime | None]:
    with database.unit_of_work() as uow:
        held = get_membership(uow=uow, user_id=USER, clock=at(moment))
    return held.plan.code, held.expires_at


def test_a_plan_given_holds_until_its_expiry_then_the_default_plan_again(
    database: InMemoryDatabase,
) -> None:
    ends = utc(2030, 6, 10)

    assert change(database, "pro", ends) == "pro"

    assert plan_at(database, NOW) == ("pro", ends)
    assert plan_at(database, ends - timedelta(seconds=1)) == ("pro", ends)
    assert plan_at(database, ends) == ("free", None)


def test_a_new_plan_replaces_the_one_in_force_and_the_default_plan_is_a_downgrade(
    database: InMemoryDatabase,
) -> None:
    change(database, "pro", utc(2031, 1, 1))
    later = NOW + timedelta(days=1)

    assert change(database, "pro", utc(2030, 7, 1), when=later) == "pro"
    assert plan_at(database, later) == ("pro", utc(2030, 7, 1))  # not the longer one

    assert change(database, "free", None, when=later + timedelta(hours=1)) == "free"
    assert plan_at(database, later + timedelta(hours=1)) == ("free", None)


def test_a_downgrade_takes_no_credits_back(database: InMemoryDatabase) -> None:
    change(database, "pro", utc(2030, 6, 10))
    before = get_quota(database=database, user_id=USER, clock=at(NOW)).balance

    change(database, "free", None, when=NOW + timedelta(hours=1))

    assert get_quota(database=database, user_id=USER, clock=at(NOW)).balance == before


@pytest.mark.parametrize(
    ("plan", "expires_at", "field"),
    [
        ("gold", utc(2030, 6, 1), "body.plan"),
        ("pro", NOW, "body.expires_at"),
        ("pro", NOW - timedelta(days=1), "body.expires_at"),
        ("free", utc(2030, 6, 1), "body.expires_at"),
    ],
)
def test_unknown_plans_and_bad_expiries_are_refused_and_change_nothing(
    database: InMemoryDatabase, plan: str, expires_at: datetime, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        change(database, plan, expires_at)

    assert [error.field for error in refused.value.errors] == [field]
    assert plan_at(database, NOW) == ("free", None)
