"""An account opened for an unverified address: no credits but the allowance, no grant when a
new period starts, and the first grant once, when its grants open (verification)."""

from __future__ import annotations

from datetime import datetime

from retouch.quota.repository import LedgerRepository
from retouch.quota.service import get_quota, open_account, open_period_grants
from tests.fakes.quota import FakeLedgerRepository, quota_database
from tests.fakes.units import InMemoryDatabase
from tests.unit.quota.conftest import FREE, NOW, PRO, USER, at, utc


def _unverified(allowance: int = 0) -> InMemoryDatabase:
    database = quota_database(plans=[FREE, PRO])
    with database.unit_of_work() as uow:
        open_account(uow=uow, user_id=USER, clock=at(), verified=False, allowance=allowance)
        uow.commit()
    return database


def _ledger(database: InMemoryDatabase) -> list[tuple[str, str, int]]:
    fake = database.fakes[LedgerRepository]
    assert isinstance(fake, FakeLedgerRepository)
    return [(line.ref, line.entry.kind, line.entry.amount) for line in fake.lines]


def _open(database: InMemoryDatabase, moment: datetime = NOW) -> int:
    with database.unit_of_work() as uow:
        granted = open_period_grants(uow=uow, user_id=USER, clock=at(moment))
        uow.commit()
    return granted


def test_an_unverified_account_opens_with_nothing_but_the_allowance() -> None:
    assert get_quota(database=_unverified(), user_id=USER, clock=at()).balance == 0
    database = _unverified(allowance=3)
    assert get_quota(database=database, user_id=USER, clock=at()).balance == 3
    assert _ledger(database) == [("allowance:7", "grant", 3)]


def test_a_new_period_of_an_unverified_account_grants_nothing() -> None:
    database = _unverified()

    later = get_quota(database=database, user_id=USER, clock=at(utc(2030, 8, 3)))

    assert (later.balance, later.period_end) == (0, utc(2030, 9, 1))
    assert _ledger(database) == []


def test_opening_the_grants_tops_the_balance_up_once_and_later_periods_grant_again() -> None:
    database = _unverified(allowance=3)

    assert _open(database) == FREE.monthly_credits - 3
    assert _open(database) == 0  # a second verification changes nothing

    assert get_quota(database=database, user_id=USER, clock=at()).balance == FREE.monthly_credits
    assert _ledger(database) == [
        ("allowance:7", "grant", 3),
        ("period:7:2030-05", "period_grant", FREE.monthly_credits - 3),
    ]
    # AND the next month's top-up follows, as for any account
    get_quota(database=database, user_id=USER, clock=at(utc(2030, 6, 2)))
    assert _ledger(database)[-1] == ("period:7:2030-06", "period_grant", 0)


def test_opening_the_grants_after_a_month_unverified_grants_the_current_month() -> None:
    database = _unverified()

    assert _open(database, utc(2030, 7, 15)) == FREE.monthly_credits

    assert _ledger(database) == [("period:7:2030-07", "period_grant", FREE.monthly_credits)]
