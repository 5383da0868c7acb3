"""Accounts never verified expire: one still unverified `RETOUCH_UNVERIFIED_TTL_DAYS` after
its sign-up is deleted by the hourly retention run, and erased by a later one, as an owner's
deletion is (`erasure.job`).

Nobody proved the address: the account may be someone else's address registered by a
stranger, or a farmed one. It never held credits beyond `RETOUCH_UNVERIFIED_ALLOWANCE`, so
nothing is lost: its ledger is kept anonymised, as every erased account's. Per account, in
one transaction, the row locked and checked again (a verification that committed first keeps
the account; one that comes after finds it `deleting` and is refused): the account becomes
`deleting` through the status change an admin's disable makes (`users.service.set_access`:
its sessions end), its tasks end as an owner's deletion ends them, and the audit row
`account.expired_unverified` is written (no actor). The erasure follows after its grace, so
an upload URL handed out just before expires first.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from retouch.audit.repository import MySQLAuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.core.db import Database
from retouch.core.logging import logger
from retouch.core.metrics import emit
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.erasure.repository import ErasureRepository
from retouch.users.repository import MySQLUserRepository

EXPIRED = "account.expired_unverified"


def expire_unverified_accounts(
    *, database: Database, settings: Settings, clock: Clock = utc_now
) -> dict[str, int]:
    """Delete the accounts still unverified after the TTL, up to `RETOUCH_ERASURE_BATCH` a
    run (the oldest first; the next run takes the rest); nothing with a TTL of 0."""
    if settings.unverified_ttl_days == 0:
        return {"expired": 0}
    now = clock()
    signed_up_before = now - timedelta(days=settings.unverified_ttl_days)
    with database.read_only() as uow:
        candidates = ErasureRepository(uow).unverified(
            created_before=signed_up_before, limit=settings.erasure_batch
        )
    expired = sum(
        _expire(database, public_id, signed_up_before=signed_up_before, now=now)
        for public_id in candidates
    )
    emit("UnverifiedAccountsExpired", expired)
    if expired:
        logger.info("unverified accounts expired", extra={"expired": expired})
    return {"expired": expired}


def _expire(
    database: Database, public_id: str, *, signed_up_before: datetime, now: datetime
) -> int:
    # imported here, as the erasure imports them: the task endings load the queue and Redis,
    # which the hourly run needs only when an account ends
    from retouch.caller.cached import forget_caller
    from retouch.erasure.service import cancel_active_tasks
    from retouch.users.service import set_access

    with database.unit_of_work() as uow:
        user = MySQLUserRepository(uow).get_by_public_id(public_id, for_update=True)
        if (
            user is None
            or user.status != "active"
            or user.email_verified
            or user.created_at > signed_up_before
        ):
            return 0  # verified, disabled or deleted meanwhile
        revoked = set_access(uow, user, role=user.role, status="deleting", now=now)
        ErasureRepository(uow).mark_requested(user.id, at=now)
        ended = cancel_active_tasks(uow, user.id, now=now)
        MySQLAuditRepository(uow).add(
            AuditEntry(
                actor_user_id=None,
                action=EXPIRED,
                target_type="user",
                target_id=user.public_id,
                after={"revoked_tokens": revoked, "canceled_tasks": len(ended)},
            )
        )
        uow.commit()
    forget_caller(public_id)  # its cached sessions end now, not at the cache's expiry
    if ended:
        from retouch.core.redis import get_redis

        for ending in ended:
            ending.announce(get_redis())
    return 1
