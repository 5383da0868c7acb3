"""Reserve, charge and refund: credits are held once per task and settled exactly once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from retouch.core.db import Database, get_database
from retouch.quota.errors import QuotaExceeded, RefReused, ReservationNotFound
from retouch.quota.reservations import charge, refund, reserve, reserve_in
from tests.conftest import Stack
from tests.integration.quota_support import (
    account_of,
    assert_ledger_matches,
    ledger_kinds,
    new_ref,
    new_user,
    spend_down_to,
)

pytestmark = pytest.mark.integration

Settle = Callable[..., bool]


@pytest.fixture
def database(stack: Stack) -> Database:
    return get_database()


def test_reserve_moves_credits_from_balance_to_reserved(database: Database) -> None:
    user_id = new_user(database)
    ref = new_ref()

    assert reserve(database=database, user_id=user_id, amount=7, task_ref=ref) is True

    assert account_of(database, user_id) == {"balance": 93, "reserved": 7}
    assert ledger_kinds(database, user_id) == [("period_grant", 100), ("reserve", -7)]
    assert_ledger_matches(database, user_id)


def test_charge_spends_the_reserved_credits(database: Database) -> None:
    user_id = new_user(database)
    ref = new_ref()
    reserve(database=database, user_id=user_id, amount=7, task_ref=ref)

    assert charge(database=database, task_ref=ref) is True

    assert account_of(database, user_id) == {"balance": 93, "reserved": 0}
    assert ledger_kinds(database, user_id)[-1] == ("charge", 0)
    assert_ledger_matches(database, user_id)


def test_refund_returns_the_reserved_credits(database: Database) -> None:
    user_id = new_user(database)
    ref = new_ref()
    reserve(database=database, user_id=user_id, amount=7, task_ref=ref)

    assert refund(database=database, task_ref=ref) is True

    assert account_of(database, user_id) == {"balance": 100, "reserved": 0}
    assert ledger_kinds(database, user_id)[-1] == ("refund", 7)
    assert_ledger_matches(database, user_id)


def test_reserving_more_than_the_balance_raises_quota_exceeded_and_changes_nothing(
    database: Database,
) -> None:
    user_id = new_user(database)
    spend_down_to(database, user_id, 5)
    ref = new_ref()

    with pytest.raises(QuotaExceeded) as raised:
        reserve(database=database, user_id=user_id, amount=6, task_ref=ref)

    assert raised.value.code == "QUOTA_EXCEEDED" and raised.value.error_code.status == 402
    assert account_of(database, user_id) == {"balance": 5, "reserved": 0}
    # the same task may try again once the balance allows it
    assert reserve(database=database, user_id=user_id, amount=5, task_ref=ref) is True
    assert account_of(database, user_id) == {"balance": 0, "reserved": 5}
    assert_ledger_matches(database, user_id)


def test_reserving_the_whole_balance_leaves_zero(database: Database) -> None:
    user_id = new_user(database)

    reserve(database=database, user_id=user_id, amount=100, task_ref=new_ref())

    assert account_of(database, user_id) == {"balance": 0, "reserved": 100}
    with pytest.raises(QuotaExceeded):
        reserve(database=database, user_id=user_id, amount=1, task_ref=new_ref())
    assert_ledger_matches(database, user_id)


def test_repeating_a_reserve_with_the_same_task_ref_reserves_once(database: Database) -> None:
    user_id = new_user(database)
    ref = new_ref()

    first = reserve(database=database, user_id=user_id, amount=10, task_ref=ref)
    second = reserve(database=database, user_id=user_id, amount=10, task_ref=ref)

    assert (first, second) == (True, False)
    assert account_of(database, user_id) == {"balance": 90, "reserved": 10}
    assert_ledger_matches(database, user_id)


def test_a_settled_task_ref_cannot_reserve_again(database: Database) -> None:
    user_id = new_user(database)
    ref = new_ref()
    reserve(database=database, user_id=user_id, amount=10, task_ref=ref)
    refund(database=database, task_ref=ref)

    assert reserve(database=database, user_id=user_id, amount=10, task_ref=ref) is False

    assert account_of(database, user_id) == {"balance": 100, "reserved": 0}
    assert_ledger_matches(database, user_id)


def test_a_task_ref_reused_with_another_amount_is_refused(database: Database) -> None:
    user_id = new_user(database)
    ref = new_ref()
    reserve(database=database, user_id=user_id, amount=10, task_ref=ref)

    with pytest.raises(RefReused):
        reserve(database=database, user_id=user_id, amount=11, task_ref=ref)
    with pytest.raises(RefReused):
        reserve(database=database, user_id=new_user(database), amount=10, task_ref=ref)

    assert account_of(database, user_id) == {"balance": 90, "reserved": 10}


@pytest.mark.parametrize(
    ("first", "second", "balance"),
    [
        (charge, charge, 90),
        (refund, refund, 100),
        (charge, refund, 90),
        (refund, charge, 100),
    ],
    ids=["charge-twice", "refund-twice", "charge-then-refund", "refund-then-charge"],
)
def test_a_reservation_is_settled_exactly_once(
    database: Database, first: Settle, second: Settle, balance: int
) -> None:
    user_id = new_user(database)
    ref = new_ref()
    reserve(database=database, user_id=user_id, amount=10, task_ref=ref)

    assert first(database=database, task_ref=ref) is True
    ledger_before = ledger_kinds(database, user_id)
    assert second(database=database, task_ref=ref) is False

    assert account_of(database, user_id) == {"balance": balance, "reserved": 0}
    assert ledger_kinds(database, user_id) == ledger_before
    assert_ledger_matches(database, user_id)


@pytest.mark.parametrize("settle", [charge, refund], ids=["charge", "refund"])
def test_settling_a_task_ref_that_never_reserved_raises(database: Database, settle: Settle) -> None:
    with pytest.raises(ReservationNotFound):
        settle(database=database, task_ref=new_ref())


def test_reserve_in_joins_the_callers_transaction(database: Database) -> None:
    user_id = new_user(database)

    with database.unit_of_work() as uow:
        reserve_in(uow=uow, user_id=user_id, amount=10, task_ref=new_ref())
        # no commit: the caller's use case failed after reserving

    assert account_of(database, user_id) == {"balance": 100, "reserved": 0}
    assert_ledger_matches(database, user_id)


def test_quota_exceeded_in_the_callers_transaction_leaves_its_other_work(
    database: Database,
) -> None:
    user_id = new_user(database)
    kept, refused = new_ref(), new_ref()

    with database.unit_of_work() as uow:
        reserve_in(uow=uow, user_id=user_id, amount=60, task_ref=kept)
        with pytest.raises(QuotaExceeded):
            reserve_in(uow=uow, user_id=user_id, amount=60, task_ref=refused)
        uow.commit()

    assert account_of(database, user_id) == {"balance": 40, "reserved": 60}
    assert reserve(database=database, user_id=user_id, amount=40, task_ref=refused) is True
    assert_ledger_matches(database, user_id)


@pytest.mark.parametrize("amount", [0, -5])
def test_amounts_must_be_positive(database: Database, amount: int) -> None:
    user_id = new_user(database)

    with pytest.raises(ValueError, match="positive"):
        reserve(database=database, user_id=user_id, amount=amount, task_ref=new_ref())
