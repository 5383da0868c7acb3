"""Credit periods: calendar months (UTC), rolled over lazily.

The first reserve, quota read or admin grant after an account's `period_end` starts the
period holding "now" (months nobody used are skipped, not granted) and tops the balance up
to the current plan's monthly credits. Topping up, not resetting: unused credits never pile
up beyond the monthly allowance, and credits above it (admin grants, late refunds) are kept,
so a roll-over never takes credits away and needs no negative "expire" row.

Exactly once under concurrency: callers lock the account row first, the update is
conditional on the old `period_end`, and the grant's ledger ref (`period:<user>:<YYYY-MM>`)
is unique. An account opened for an unverified address rolls over without a grant until
its grants open (`service.open_period_grants`, at verification).
"""

from __future__ import annotations

from datetime import datetime, timezone

from retouch.core.settings import get_settings
from retouch.core.units import Transaction
from retouch.quota.errors import PlanNotConfigured, QuotaAccountNotFound
from retouch.quota.repository import (
    AccountRepository,
    LedgerRepository,
    MembershipRepository,
    PlanRepository,
)
from retouch.quota.schemas import Account, Membership, PlanRead


def month_of(moment: datetime) -> tuple[datetime, datetime]:
    """The calendar month (UTC) holding `moment`, as [start, end)."""
    moment = moment.astimezone(timezone.utc)
    start = datetime(moment.year, moment.month, 1, tzinfo=timezone.utc)
    if moment.month == 12:
        return start, datetime(moment.year + 1, 1, 1, tzinfo=timezone.utc)
    return start, datetime(moment.year, moment.month + 1, 1, tzinfo=timezone.utc)


def locked_account(uow: Transaction, *, user_id: int, now: datetime) -> Account:
    """The account, locked for this transaction, its period rolled over first if it ended."""
    accounts = uow.repository(AccountRepository)
    account = accounts.get(user_id, for_update=True)
    if account is None:
        raise QuotaAccountNotFound(user_id=user_id)
    if account.period_end > now:
        return account
    plan = current_plan(uow, user_id=user_id, now=now)
    start, end = month_of(now)
    # An account whose grants are not open yet (an unverified address) only moves its period.
    top_up = max(0, plan.monthly_credits - account.balance) if account.period_grants else 0
    if (
        accounts.start_period(
            user_id=user_id, ended=account.period_end, start=start, end=end, top_up=top_up
        )
        and account.period_grants
    ):
        grant_period(uow, user_id=user_id, plan=plan, start=start, amount=top_up, now=now)
    rolled = accounts.get(user_id, for_update=True)
    if rolled is None:  # pragma: no cover - the row is locked by this transaction
        raise QuotaAccountNotFound(user_id=user_id)
    return rolled


def grant_period(
    uow: Transaction, *, user_id: int, plan: PlanRead, start: datetime, amount: int, now: datetime
) -> None:
    """The ledger row of a period's grant (the balance was already raised by `amount`)."""
    uow.repository(LedgerRepository).add(
        user_id=user_id,
        kind="period_grant",
        amount=amount,
        ref=f"period:{user_id}:{start:%Y-%m}",
        reason=f"{plan.code} plan, {start:%Y-%m}",
        now=now,
    )


def current_plan(uow: Transaction, *, user_id: int, now: datetime) -> PlanRead:
    """The plan the user holds at `now` (see `current_membership`)."""
    return current_membership(uow, user_id=user_id, now=now).plan


def current_membership(uow: Transaction, *, user_id: int, now: datetime) -> Membership:
    """The membership in force with the highest-priority plan; once every membership has
    expired, the default plan, open-ended."""
    membership = uow.repository(MembershipRepository).current(user_id=user_id, at=now)
    return membership or Membership(plan=default_plan(uow), expires_at=None)


def default_plan(uow: Transaction) -> PlanRead:
    """The plan named by RETOUCH_DEFAULT_PLAN (configuration, loaded from the seed)."""
    code = get_settings().default_plan
    plan = uow.repository(PlanRepository).get(code)
    if plan is None:
        raise PlanNotConfigured(plan_code=code)
    return plan
