"""Changing a user's plan: an admin's grant, a paid order, a refunded one.

A user always holds the default plan, open-ended, from `open_account`; any other plan is one
membership row with a start and, usually, an expiry. Changing the plan ends every other
membership in force now (the default one stays) and starts the new one now, so the current
plan is the one just given. Giving the default plan is a downgrade: the others end, nothing
is added. Credits are not touched: the next period's grant follows the plan then in force
(`periods.py`), and a plan ending mid-period never takes credits back.
"""

from __future__ import annotations

from datetime import datetime

from retouch.core.errors import FieldError, ValidationFailed
from retouch.core.settings import get_settings
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transaction
from retouch.quota.periods import current_membership
from retouch.quota.repository import MembershipRepository, PlanRepository
from retouch.quota.schemas import Membership


def change_membership(
    *,
    uow: Transaction,
    user_id: int,
    plan_code: str,
    expires_at: datetime | None,
    clock: Clock = utc_now,
    allow_archived: bool = False,
) -> Membership:
    """Make `plan_code` the user's plan from now until `expires_at` (None: open-ended) and
    return the membership then in force. Runs in the caller's transaction.

    An unknown plan, an archived one (unless `allow_archived`: an order paid before the
    plan was archived), an expiry not in the future, or an expiry given with the default plan
    (which never ends) is ValidationFailed (422), and nothing changes."""
    now = clock()
    plan = uow.repository(PlanRepository).get(plan_code)
    if plan is None:
        raise ValidationFailed(
            "No such plan", errors=[FieldError("body.plan", "no such plan", "plan_unknown")]
        )
    if plan.archived and not allow_archived:
        raise ValidationFailed(
            "No such plan",
            errors=[FieldError("body.plan", "the plan is archived", "plan_archived")],
        )
    default = get_settings().default_plan
    if expires_at is not None and (plan_code == default or expires_at <= now):
        raise ValidationFailed(
            "The expiry must be in the future, and the default plan never expires",
            errors=[FieldError("body.expires_at", "not a valid expiry", "expiry_invalid")],
        )
    memberships = uow.repository(MembershipRepository)
    memberships.end(user_id=user_id, at=now, keep_plan=default)
    if plan_code != default:
        memberships.add(user_id=user_id, plan_code=plan_code, starts_at=now, expires_at=expires_at)
    return current_membership(uow, user_id=user_id, now=now)


def shorten_membership(
    *, uow: Transaction, user_id: int, plan_code: str, days: int, clock: Clock = utc_now
) -> Membership:
    """Take `days` off the user's membership of `plan_code` (a refunded month of it) and
    return the membership then in force: the plan ends now when fewer days were left, and
    the next plan in force, or the default one, applies. Credits are not touched. Runs in
    the caller's transaction."""
    now = clock()
    uow.repository(MembershipRepository).shorten(
        user_id=user_id, plan_code=plan_code, days=days, at=now
    )
    return current_membership(uow, user_id=user_id, now=now)
