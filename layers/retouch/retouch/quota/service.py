"""Plans, membership and credits: the account-level use cases.

Credits live in `quota_accounts.balance` (spendable) and `reserved` (held by unfinished
tasks, see `reservations.py`). Every change of the balance writes one ledger row in the same
transaction carrying the signed amount by which the balance moved, so a user's ledger always
sums to the balance. Periods and their grants: `periods.py`.

Functions taking `uow` run in the caller's transaction and never commit (register and the
admin endpoints compose them); those taking `database` are use cases with their own.
"""

from __future__ import annotations

from collections.abc import Iterable

from retouch.core.pagination import decode_row_cursor, row_page
from retouch.core.security import derived_key
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transaction, Transactions
from retouch.quota.errors import QuotaAccountNotFound, RefReused
from retouch.quota.periods import (
    current_membership,
    current_plan,
    default_plan,
    grant_period,
    locked_account,
    month_of,
)
from retouch.quota.repository import (
    AccountRepository,
    LedgerRepository,
    MembershipRepository,
    PlanRepository,
)
from retouch.quota.reservations import require_positive
from retouch.quota.schemas import (
    MAX_PAGE_SIZE,
    LedgerPage,
    Membership,
    PlanList,
    PlanPublic,
    PlanWrite,
    QuotaRead,
)


def load_plans(*, database: Transactions, plans: Iterable[PlanWrite]) -> int:
    """Insert or update the given plans in one transaction; return how many were written."""
    count = 0
    with database.unit_of_work() as uow:
        repository = uow.repository(PlanRepository)
        for plan in plans:
            repository.upsert(plan)
            count += 1
        uow.commit()
    return count


def list_plans(*, database: Transactions) -> PlanList:
    """The plan catalogue as clients see it, lowest priority first."""
    with database.unit_of_work() as uow:
        plans = uow.repository(PlanRepository).list()
    return PlanList(items=[PlanPublic.of(plan) for plan in plans])


def open_account(
    *,
    uow: Transaction,
    user_id: int,
    clock: Clock = utc_now,
    verified: bool = True,
    allowance: int = 0,
) -> None:
    """Give a new user the default plan (open-ended) and the first period's credits; for an
    unverified address (a sign-up's) only `allowance` credits and no period grants until
    `open_period_grants`.

    Runs in the caller's transaction, once per user (register calls it beside the insert).
    """
    now = clock()
    plan = default_plan(uow)
    uow.repository(MembershipRepository).add(
        user_id=user_id, plan_code=plan.code, starts_at=now, expires_at=None
    )
    start, end = month_of(now)
    accounts = uow.repository(AccountRepository)
    accounts.add(user_id=user_id, period_start=start, period_end=end, period_grants=verified)
    if verified:
        accounts.add_credits(user_id=user_id, amount=plan.monthly_credits)
        grant_period(
            uow, user_id=user_id, plan=plan, start=start, amount=plan.monthly_credits, now=now
        )
    elif allowance > 0:
        accounts.add_credits(user_id=user_id, amount=allowance)
        uow.repository(LedgerRepository).add(
            user_id=user_id,
            kind="grant",
            amount=allowance,
            ref=f"allowance:{user_id}",
            reason="unverified allowance",
            now=now,
        )


def open_period_grants(*, uow: Transaction, user_id: int, clock: Clock = utc_now) -> int:
    """Start the period grants of an account opened unverified: top the balance up to the
    plan's monthly credits now (the period's grant, ledger ref `period:<user>:<YYYY-MM>`)
    and at every later period. Once: 0 (nothing changed) when they were open already;
    otherwise the credits granted. Runs in the caller's transaction (the account is locked).
    """
    now = clock()
    account = locked_account(uow, user_id=user_id, now=now)
    if not uow.repository(AccountRepository).open_period_grants(user_id):
        return 0
    plan = current_plan(uow, user_id=user_id, now=now)
    top_up = max(0, plan.monthly_credits - account.balance)
    uow.repository(AccountRepository).add_credits(user_id=user_id, amount=top_up)
    grant_period(
        uow, user_id=user_id, plan=plan, start=account.period_start, amount=top_up, now=now
    )
    return top_up


def grant_credits(
    *, uow: Transaction, user_id: int, amount: int, reason: str, ref: str, clock: Clock = utc_now
) -> int:
    """Add `amount` credits to the balance (an admin grant) once per `ref`; return the balance.

    A `ref` seen before with the same user and amount changes nothing; with another user or
    amount it raises RefReused. Runs in the caller's transaction.
    """
    require_positive(amount)
    now = clock()
    # Roll an ended period over first, or its top-up would swallow this grant.
    account = locked_account(uow, user_id=user_id, now=now)
    ledger = uow.repository(LedgerRepository)
    # The ledger row goes first and its key decides "once". Looking the ref up first under a
    # lock would hold the gap where it is missing, and concurrent grants whose refs fall in
    # that gap would each wait for the others' inserts: a pile-up InnoDB may never untie.
    balance = account.balance + amount
    if ledger.add_once(
        user_id=user_id,
        kind="grant",
        amount=amount,
        balance_after=balance,
        ref=ref,
        reason=reason,
        now=now,
    ):
        uow.repository(AccountRepository).add_credits(user_id=user_id, amount=amount)
        return balance
    if ledger.find(ref=ref, kind="grant") != (user_id, amount):
        raise RefReused(ref=ref)
    return account.balance


def top_up_credits(
    *, uow: Transaction, user_id: int, amount: int, ref: str, reason: str, clock: Clock = utc_now
) -> int:
    """Add purchased credits (ledger kind `top_up`, never taken back by a period's roll-over)
    for the paid order `ref`; return the balance. The caller guarantees once per order (its
    status update); the ledger's (ref, kind) key refuses a second row anyway."""
    require_positive(amount)
    now = clock()
    account = locked_account(uow, user_id=user_id, now=now)
    uow.repository(AccountRepository).add_credits(user_id=user_id, amount=amount)
    uow.repository(LedgerRepository).add(
        user_id=user_id, kind="top_up", amount=amount, ref=ref, reason=reason, now=now
    )
    return account.balance + amount


def take_back_credits(
    *, uow: Transaction, user_id: int, amount: int, ref: str, reason: str, clock: Clock = utc_now
) -> int:
    """Take back the purchased credits of the refunded order `ref` (ledger kind
    `refund_purchase`), as many as the balance holds and never more; return the shortfall,
    what was already spent. Credits reserved by unfinished tasks stay theirs. The caller
    guarantees once per order (its status update); the ledger's (ref, kind) key refuses a
    second row anyway."""
    require_positive(amount)
    now = clock()
    account = locked_account(uow, user_id=user_id, now=now)
    taken = min(amount, max(0, account.balance))
    uow.repository(AccountRepository).add_credits(user_id=user_id, amount=-taken)
    uow.repository(LedgerRepository).add(
        user_id=user_id, kind="refund_purchase", amount=-taken, ref=ref, reason=reason, now=now
    )
    return amount - taken


def get_membership(*, uow: Transaction, user_id: int, clock: Clock = utc_now) -> Membership:
    """The plan the user holds now and when that membership ends (None: open-ended); the
    default plan once every membership has expired. Runs in the caller's transaction."""
    return current_membership(uow, user_id=user_id, now=clock())


def get_quota(*, database: Transactions, user_id: int, clock: Clock = utc_now) -> QuotaRead:
    """The user's balance, reserved credits, current plan and period end."""
    now = clock()
    with database.unit_of_work() as uow:
        account = uow.repository(AccountRepository).get(user_id)
        if account is None:
            raise QuotaAccountNotFound(user_id=user_id)
        if account.period_end <= now:
            account = locked_account(uow, user_id=user_id, now=now)
            uow.commit()
        plan = current_plan(uow, user_id=user_id, now=now)
    return QuotaRead(
        balance=account.balance,
        reserved=account.reserved,
        plan=plan.code,
        period_end=account.period_end,
    )


def list_ledger(
    *,
    database: Transactions,
    settings: Settings,
    user_id: int,
    cursor: str | None,
    limit: int = 20,
) -> LedgerPage:
    """One page of the user's ledger, newest first, keyset on the row id.

    `cursor` is the previous page's `next_cursor`, sealed and bound to the user (the row id in
    it is internal): an edited, malformed or another user's cursor raises InvalidCursor (422).
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be 1..{MAX_PAGE_SIZE}, not {limit}")
    secret = derived_key(settings, "ledger-cursor")
    context = f"ledger|{user_id}"
    before_id = decode_row_cursor(cursor, secret=secret, context=context)
    with database.unit_of_work() as uow:
        rows = uow.repository(LedgerRepository).page(
            user_id=user_id, before_id=before_id, limit=limit + 1
        )
    page, next_cursor = row_page(
        rows, limit=limit, row_id=lambda row: row.id, secret=secret, context=context
    )
    return LedgerPage(items=[row.entry for row in page], next_cursor=next_cursor)
