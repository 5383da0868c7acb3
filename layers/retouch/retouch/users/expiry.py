"""The plan expiry job: memberships whose expiry passed are ended for good, audited and counted.

A membership stops counting at its expiry on every read (`quota.periods.current_membership`),
so the plan in force never waits for this job; the job records the fall-back: each membership
that ran out by itself is marked handled and audited `membership.expired` (target the user,
the plan before and the plan in force after, the default one unless another is held). Credits
do not change: a plan ending changes no balance, and the next month's top-up follows the plan
then in force (`quota/periods.py`, docs/accounts-plans.md).

A run works in batches of at most `batch` memberships, each batch one transaction: the due
rows are locked with `SKIP LOCKED`, so a concurrent run takes other rows instead of waiting,
and each is marked by an update guarded on "not handled yet", so a membership is audited once
however many runs overlap or repeat. Memberships ended by a change (an admin's, a paid
order's) are marked handled by that change and never audited here.
"""

from __future__ import annotations

from datetime import datetime

from retouch.audit.repository import AuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.core.db import get_database
from retouch.core.logging import logger
from retouch.core.metrics import emit
from retouch.core.settings import get_settings
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transactions
from retouch.quota.periods import current_membership
from retouch.quota.repository import MembershipRepository

#: Memberships per transaction, and transactions per run: a run ends in bounded time, and
#: the next hour's run takes whatever it left.
BATCH = 200
MAX_BATCHES = 50


def run_scheduled_expiry() -> dict[str, int]:
    """One expiry run on the job's connection."""
    return expire_memberships(database=get_database("job"))


def expire_memberships(
    *,
    database: Transactions,
    batch: int = BATCH,
    max_batches: int = MAX_BATCHES,
    clock: Clock = utc_now,
) -> dict[str, int]:
    """End the memberships whose expiry passed by `clock()` (see the module); return how
    many this run ended (metric `MembershipsExpired`)."""
    now = clock()
    expired = 0
    for _ in range(max_batches):
        ended, due = _expire_batch(database, batch=batch, now=now)
        expired += ended
        # Only an empty batch means done: a short one may be short because a concurrent run
        # may hold rows its locking read examined but did not return (REPEATABLE READ keeps
        # them locked), which it will not end either; the next batch finds them free.
        if not due:
            break
    emit("MembershipsExpired", expired)
    logger.info("memberships expired", extra={"expired": expired})
    return {"expired": expired}


def _expire_batch(database: Transactions, *, batch: int, now: datetime) -> tuple[int, int]:
    """(memberships this batch ended, memberships it found due)."""
    default = get_settings().default_plan
    with database.unit_of_work() as uow:
        memberships = uow.repository(MembershipRepository)
        due = memberships.due_to_expire(at=now, keep_plan=default, limit=batch)
        ended: list[str] = []
        for row in due:
            if not memberships.mark_expired(row.id, at=now):
                continue
            after = current_membership(uow, user_id=row.user_id, now=now)
            uow.repository(AuditRepository).add(
                AuditEntry(
                    actor_user_id=None,
                    action="membership.expired",
                    target_type="user",
                    target_id=row.user_public_id,
                    before={"plan": row.plan_code, "expires_at": row.expires_at.isoformat()},
                    after={
                        "plan": after.plan.code,
                        "expires_at": None
                        if after.expires_at is None
                        else after.expires_at.isoformat(),
                    },
                )
            )
            ended.append(row.user_public_id)
        uow.commit()
    if ended:
        # Here, not at import: the cache's module loads redis-py, which a run that ends no
        # membership (most runs) never needs (docs/performance.md, issue 20 item 5).
        from retouch.caller.cached import forget_caller

        for public_id in ended:  # a cached record stops at its expiry already; this is the rest
            forget_caller(public_id)
    return len(ended), len(due)
