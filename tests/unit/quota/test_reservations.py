"""Reserve, charge, refund: credits are never overspent and a reservation settles once."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from retouch.quota.errors import (
    QuotaAccountNotFound,
    QuotaExceeded,
    RefReused,
    ReservationNotFound,
)
from retouch.quota.repository import AccountRepository, LedgerRepository, ReservationRepository
from retouch.quota.reservations import charge, charge_in, refund, refund_in, reserve, reserve_in
from retouch.quota.service import open_account
from tests.fakes.quota import FakeLedgerRepository
from tests.fakes.units import InMemoryDatabase
from tests.unit.quota.conftest import USER, at

Settle = Callable[..., bool]


def balance(database: InMemoryDatabase) -> tuple[int, int]:
    """(balance, reserved) of USER."""
    with database.read_only() as uow:
        account = uow.repository(AccountRepository).get(USER)
    assert account is not None
    return account.balance, account.reserved


def ledger(database: InMemoryDatabase) -> FakeLedgerRepository:
    fake = database.fakes[LedgerRepository]
    assert isinstance(fake, FakeLedgerRepository)
    return fake


def test_reserving_moves_credits_from_balance_to_reserved(database: InMemoryDatabase) -> None:
    reserved = reserve(database=database, user_id=USER, amount=4, task_ref="t1", clock=at())

    assert reserved is True
    assert balance(database) == (6, 4)


def test_reserving_writes_a_negative_ledger_row(database: InMemoryDatabase) -> None:
    reserve(database=database, user_id=USER, amount=4, task_ref="t1", clock=at())

    last = ledger(database).entries(USER)[-1]
    assert (last.kind, last.amount, last.balance_after) == ("reserve", -4, 6)


def test_the_whole_balance_can_be_reserved(database: InMemoryDatabase) -> None:
    reserve(database=database, user_id=USER, amount=10, task_ref="t1", clock=at())

    assert balance(database) == (0, 10)


def test_reserving_more_than_the_balance_is_refused_and_changes_nothing(
    database: InMemoryDatabase,
) -> None:
    with pytest.raises(QuotaExceeded):
        reserve(database=database, user_id=USER, amount=11, task_ref="t1", clock=at())

    assert balance(database) == (10, 0)
    with database.read_only() as uow:
        assert uow.repository(ReservationRepository).get("t1") is None


def test_a_refused_reserve_inside_a_transaction_leaves_it_as_found(
    database: InMemoryDatabase,
) -> None:
    with database.unit_of_work() as uow:
        reserve_in(uow=uow, user_id=USER, amount=6, task_ref="t1", clock=at())
        with pytest.raises(QuotaExceeded):
            reserve_in(uow=uow, user_id=USER, amount=6, task_ref="t2", clock=at())
        uow.commit()

    assert balance(database) == (4, 6)
    assert [entry.amount for entry in ledger(database).entries(USER)] == [10, -6]


def test_successive_reserves_never_overspend(database: InMemoryDatabase) -> None:
    outcomes = []
    for number in range(5):
        try:
            reserve(database=database, user_id=USER, amount=3, task_ref=f"t{number}", clock=at())
            outcomes.append("reserved")
        except QuotaExceeded:
            outcomes.append("refused")

    assert outcomes == ["reserved", "reserved", "reserved", "refused", "refused"]
    assert balance(database) == (1, 9)


def test_reserving_the_same_ref_twice_takes_the_credits_once(database: InMemoryDatabase) -> None:
    first = reserve(database=database, user_id=USER, amount=4, task_ref="t1", clock=at())
    second = reserve(database=database, user_id=USER, amount=4, task_ref="t1", clock=at())

    assert (first, second) == (True, False)
    assert balance(database) == (6, 4)


@pytest.mark.parametrize(("user_id", "amount"), [(USER, 5), (USER + 1, 4)])
def test_a_ref_reused_for_other_credits_is_refused(
    database: InMemoryDatabase, user_id: int, amount: int
) -> None:
    reserve(database=database, user_id=USER, amount=4, task_ref="t1", clock=at())

    with pytest.raises(RefReused):
        reserve(database=database, user_id=user_id, amount=amount, task_ref="t1", clock=at())

    assert balance(database) == (6, 4)


@pytest.mark.parametrize("amount", [0, -1, -100])
def test_amounts_must_be_positive(database: InMemoryDatabase, amount: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        reserve(database=database, user_id=USER, amount=amount, task_ref="t1", clock=at())

    assert balance(database) == (10, 0)


def test_a_user_without_an_account_cannot_reserve(database: InMemoryDatabase) -> None:
    with pytest.raises(QuotaAccountNotFound):
        reserve(database=database, user_id=USER + 1, amount=1, task_ref="t1", clock=at())


def test_charging_spends_the_reserved_credits(database: InMemoryDatabase) -> None:
    reserve(database=database, user_id=USER, amount=4, task_ref="t1", clock=at())

    charged = charge(database=database, task_ref="t1", clock=at())

    assert charged is True
    assert balance(database) == (6, 0)
    last = ledger(database).entries(USER)[-1]
    assert (last.kind, last.amount, last.balance_after) == ("charge", 0, 6)


def test_refunds_the_reserved_amount(database: InMemoryDatabase) -> None:
    reserve(database=database, user_id=USER, amount=4, task_ref="t1", clock=at())

    refunded = refund(database=database, task_ref="t1", clock=at())

    assert refunded is True
    assert balance(database) == (10, 0)
    last = ledger(database).entries(USER)[-1]
    assert (last.kind, last.amount, last.balance_after) == ("refund", 4, 10)


@pytest.mark.parametrize(
    ("first", "second"),
    [(charge, charge), (charge, refund), (refund, refund), (refund, charge)],
    ids=["charge-charge", "charge-refund", "refund-refund", "refund-charge"],
)
def test_a_reservation_settles_once(
    database: InMemoryDatabase, first: Settle, second: Settle
) -> None:
    reserve(database=database, user_id=USER, amount=4, task_ref="t1", clock=at())
    assert first(database=database, task_ref="t1", clock=at()) is True
    after_first = (balance(database), len(ledger(database).lines))

    again = second(database=database, task_ref="t1", clock=at())

    assert again is False
    assert (balance(database), len(ledger(database).lines)) == after_first


def test_refunds_the_reserved_amount_once(database: InMemoryDatabase) -> None:
    reserve(database=database, user_id=USER, amount=4, task_ref="t1", clock=at())

    results = [refund(database=database, task_ref="t1", clock=at()) for _ in range(3)]

    assert results == [True, False, False]
    assert balance(database) == (10, 0)


@pytest.mark.parametrize("settle", [charge, refund], ids=["charge", "refund"])
def test_settling_an_unknown_ref_is_not_found(database: InMemoryDatabase, settle: Settle) -> None:
    with pytest.raises(ReservationNotFound):
        settle(database=database, task_ref="never-reserved", clock=at())

    assert balance(database) == (10, 0)


def test_settling_only_touches_its_own_reservation(database: InMemoryDatabase) -> None:
    reserve(database=database, user_id=USER, amount=2, task_ref="t1", clock=at())
    reserve(database=database, user_id=USER, amount=3, task_ref="t2", clock=at())

    refund(database=database, task_ref="t1", clock=at())

    assert balance(database) == (7, 3)
    with database.read_only() as uow:
        other = uow.repository(ReservationRepository).get("t2")
    assert other is not None and other.status == "reserved"


def test_charge_and_refund_inside_the_callers_transaction_are_undone_without_commit(
    database: InMemoryDatabase,
) -> None:
    reserve(database=database, user_id=USER, amount=4, task_ref="t1", clock=at())

    with database.unit_of_work() as uow:
        assert refund_in(uow=uow, task_ref="t1", clock=at()) is True
        # no commit: the caller's transaction failed

    assert balance(database) == (6, 4)
    with database.unit_of_work() as uow:
        assert charge_in(uow=uow, task_ref="t1", clock=at()) is True
        uow.commit()
    assert balance(database) == (6, 0)


def test_the_ledger_always_sums_to_the_balance(database: InMemoryDatabase) -> None:
    for number, amount in enumerate([3, 2, 4]):
        reserve(database=database, user_id=USER, amount=amount, task_ref=f"t{number}", clock=at())
    charge(database=database, task_ref="t0", clock=at())
    refund(database=database, task_ref="t1", clock=at())

    total = sum(entry.amount for entry in ledger(database).entries(USER))

    assert total == balance(database)[0] == 3


@pytest.mark.parametrize("settle", [charge, refund], ids=["charged", "refunded"])
def test_a_settled_ref_cannot_take_credits_again(
    database: InMemoryDatabase, settle: Settle
) -> None:
    reserve(database=database, user_id=USER, amount=4, task_ref="t1", clock=at())
    settle(database=database, task_ref="t1", clock=at())
    before = balance(database)

    again = reserve(database=database, user_id=USER, amount=4, task_ref="t1", clock=at())

    assert again is False
    assert balance(database) == before


def test_each_users_credits_are_their_own(database: InMemoryDatabase) -> None:
    with database.unit_of_work() as uow:
        open_account(uow=uow, user_id=USER + 1, clock=at())
        uow.commit()

    reserve(database=database, user_id=USER + 1, amount=10, task_ref="other", clock=at())

    assert balance(database) == (10, 0)
