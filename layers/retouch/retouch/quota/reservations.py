"""Reserve credits for a task, then settle the reservation exactly once.

`reserve_in`, `charge_in` and `refund_in` run in the caller's unit of work (task creation
reserves with `reserve_new_in`, in the transaction that writes the task); `reserve`, `charge`
and `refund` are the same use cases in a transaction of their own. The ledger amounts:
reserve -n (the credits leave the balance for `reserved`), refund +n, charge 0 (they were
already gone).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from retouch.core.time import Clock, utc_now
from retouch.core.units import Transaction, Transactions
from retouch.quota.errors import (
    QuotaAccountNotFound,
    QuotaExceeded,
    RefReused,
    ReservationNotFound,
)
from retouch.quota.periods import locked_account
from retouch.quota.repository import (
    AccountRepository,
    LedgerRepository,
    ReservationRepository,
)
from retouch.quota.schemas import LedgerKind, SettledStatus

T = TypeVar("T")


def reserve_in(
    *, uow: Transaction, user_id: int, amount: int, task_ref: str, clock: Clock = utc_now
) -> bool:
    """Hold `amount` credits for `task_ref` in the caller's transaction.

    True if this call reserved them, False if `task_ref` already holds the same credits
    (nothing changes). Raises QuotaExceeded, leaving the transaction as it found it.
    """
    require_positive(amount)
    now = clock()
    reservations = uow.repository(ReservationRepository)
    # The reservation row goes first: a concurrent reserve of the same task_ref waits on its
    # key, then finds it, so no task_ref takes credits twice.
    if not reservations.add(task_ref=task_ref, user_id=user_id, amount=amount, now=now):
        earlier = reservations.get(task_ref)
        if earlier is None or (earlier.user_id, earlier.amount) != (user_id, amount):
            raise RefReused(ref=task_ref)
        return False
    accounts = uow.repository(AccountRepository)
    # Usually this one conditional update is all. It matches nothing when the balance is
    # short, the period has ended (roll it over, then try once more) or there is no account.
    if not accounts.take(user_id=user_id, amount=amount, now=now):
        account = locked_account(uow, user_id=user_id, now=now)
        if account.balance < amount or not accounts.take(user_id=user_id, amount=amount, now=now):
            reservations.delete(task_ref)
            raise QuotaExceeded(user_id=user_id, amount=amount, balance=account.balance)
    uow.repository(LedgerRepository).add(
        user_id=user_id, kind="reserve", amount=-amount, ref=task_ref, reason=None, now=now
    )
    return True


def reserve_new_in(
    *,
    uow: Transaction,
    user_id: int,
    amount: int,
    task_ref: str,
    now: datetime,
    under_lock: Callable[[], None],
) -> None:
    """`reserve_in` for a `task_ref` this request has just made, as the first statements of
    the caller's transaction, in fewer of them: the account's conditional update comes
    first, and it is also the lock that serialises the user's creations, so `under_lock`
    (called right after it, before anything else is read) sees every creation committed
    before; then the reservation row and the ledger row. Raises QuotaExceeded, or RefReused
    when `task_ref` is not new after all; the caller's transaction must then roll back."""
    require_positive(amount)
    accounts = uow.repository(AccountRepository)
    # Usually this one conditional update is all. It matches nothing when the balance is
    # short, the period has ended (roll it over, then try once more) or there is no account.
    if accounts.take(user_id=user_id, amount=amount, now=now):
        under_lock()
    else:
        account = locked_account(uow, user_id=user_id, now=now)
        under_lock()
        if account.balance < amount or not accounts.take(user_id=user_id, amount=amount, now=now):
            raise QuotaExceeded(user_id=user_id, amount=amount, balance=account.balance)
    if not uow.repository(ReservationRepository).add(
        task_ref=task_ref, user_id=user_id, amount=amount, now=now
    ):
        raise RefReused(ref=task_ref)
    uow.repository(LedgerRepository).add(
        user_id=user_id, kind="reserve", amount=-amount, ref=task_ref, reason=None, now=now
    )


def charge_in(*, uow: Transaction, task_ref: str, clock: Clock = utc_now) -> bool:
    """Spend the credits reserved for `task_ref`. True if this call settled the reservation;
    False if it was already charged or refunded (then nothing changes)."""
    return _settle(uow, task_ref=task_ref, status="charged", now=clock())


def refund_in(*, uow: Transaction, task_ref: str, clock: Clock = utc_now) -> bool:
    """Give the credits reserved for `task_ref` back. True if this call settled the
    reservation; False if it was already charged or refunded (then nothing changes)."""
    return _settle(uow, task_ref=task_ref, status="refunded", now=clock())


def reserve(
    *, database: Transactions, user_id: int, amount: int, task_ref: str, clock: Clock = utc_now
) -> bool:
    """`reserve_in` in a transaction of its own."""
    return _committed(
        database,
        lambda uow: reserve_in(
            uow=uow, user_id=user_id, amount=amount, task_ref=task_ref, clock=clock
        ),
    )


def charge(*, database: Transactions, task_ref: str, clock: Clock = utc_now) -> bool:
    """`charge_in` in a transaction of its own."""
    return _committed(database, lambda uow: charge_in(uow=uow, task_ref=task_ref, clock=clock))


def refund(*, database: Transactions, task_ref: str, clock: Clock = utc_now) -> bool:
    """`refund_in` in a transaction of its own."""
    return _committed(database, lambda uow: refund_in(uow=uow, task_ref=task_ref, clock=clock))


def require_positive(amount: int) -> None:
    if amount < 1:
        raise ValueError(f"credit amounts are positive whole numbers, not {amount}")


def _committed(database: Transactions, use_case: Callable[[Transaction], T]) -> T:
    with database.unit_of_work() as uow:
        result = use_case(uow)
        uow.commit()
    return result


def _settle(uow: Transaction, *, task_ref: str, status: SettledStatus, now: datetime) -> bool:
    reservations = uow.repository(ReservationRepository)
    # Concurrent settlers queue on the reservation row; the first flips its status and
    # releases the account's credits in the same statement, and every later one matches
    # nothing. The ledger row reads the reservation itself: two statements in all.
    if reservations.settle_and_release(task_ref=task_ref, status=status, now=now):
        kind: LedgerKind = "refund" if status == "refunded" else "charge"
        uow.repository(LedgerRepository).add_settlement(ref=task_ref, kind=kind, now=now)
        return True
    reservation = reservations.get(task_ref)
    if reservation is None:
        raise ReservationNotFound(task_ref=task_ref)
    if reservation.status == "reserved":  # still reserved: its account is gone
        raise QuotaAccountNotFound(user_id=reservation.user_id)
    return False
