"""Deleting an account: the owner's request (`DELETE /v1/me`), which ends the account at once,
and the erasure that follows off the request (`erasure.job`).

The request confirms the password the way a sign-in does (the same limits per account and
address, a failure counted towards the account's lockout, one answer for a wrong password),
then in one transaction: the account becomes `deleting` through the status change an admin's
disable makes (`users.service.set_access`: every refresh family revoked, and every request
reads the status, so the old access and refresh tokens answer 401 at once), its queued and
running tasks are canceled with their credits returned (`tasks.cancel.cancel_in`, the
owner's own cancel), and an `account.deleted` audit row is written without the address.
Asking again while the account is `deleting` answers the same and changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from retouch.audit.repository import MySQLAuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.auth.attempts import LoginGuard
from retouch.auth.hashing import hashing_slot
from retouch.caller.cached import forget_caller
from retouch.core.db import Database, UnitOfWork
from retouch.core.identity import Principal
from retouch.core.logging import logger
from retouch.core.redis import RedisClient
from retouch.core.security import verify_password
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.erasure.errors import PasswordNotConfirmed
from retouch.erasure.repository import ErasureRepository
from retouch.erasure.schemas import AccountDeletionRead
from retouch.tasks.cancel import cancel_in
from retouch.tasks.lifecycle import Ended
from retouch.tasks.records import ACTIVE
from retouch.tasks.repository import TaskRepository
from retouch.users.errors import CannotChangeOwnAccess, UserNotFound
from retouch.users.repository import MySQLUserRepository
from retouch.users.service import set_access

DELETED = "account.deleted"
ERASED = "account.erased"
#: How often the erasure runs (with the hourly retention job: template.yaml, deploy/tencent.yml);
#: with the grace, the longest an account waits for its erasure.
JOB_INTERVAL_S = 3600


def delete_account(
    *,
    database: Database,
    settings: Settings,
    redis: RedisClient,
    guard: LoginGuard,
    principal: Principal,
    password: str,
    client_ip: str,
    clock: Clock = utc_now,
) -> AccountDeletionRead:
    """Delete the caller's account once `password` confirms it (PasswordNotConfirmed, 403,
    otherwise: nothing changes); its data is erased within the answer's `erased_within_s`."""
    user = principal.user
    guard.admit(email=user.email, client_ip=client_ip)
    with hashing_slot(settings):
        confirmed = verify_password(user.password_hash, password)
    if not confirmed:
        guard.failed(settings, email=user.email)
        raise PasswordNotConfirmed
    return _delete(database, settings, redis, public_id=user.public_id, actor=None, now=clock())


def delete_user(
    *,
    database: Database,
    settings: Settings,
    redis: RedisClient,
    actor: Principal,
    public_id: str,
    clock: Clock = utc_now,
) -> AccountDeletionRead:
    """An admin deletes another account (`DELETE /v1/admin/users/{id}`): the same deletion
    and erasure, audited with the admin as the actor. UserNotFound (404) for no such
    account or one erased already; an admin's own account is deleted through `/v1/me`."""
    if public_id == actor.public_id:
        raise CannotChangeOwnAccess("Delete your own account with DELETE /v1/me")
    return _delete(database, settings, redis, public_id=public_id, actor=actor, now=clock())


def _delete(
    database: Database,
    settings: Settings,
    redis: RedisClient,
    *,
    public_id: str,
    actor: Principal | None,
    now: datetime,
) -> AccountDeletionRead:
    """Mark the account `deleting` (once: again, nothing changes), end its sessions and
    tasks, and audit it, in one transaction."""
    with database.unit_of_work() as uow:
        current = MySQLUserRepository(uow).get_by_public_id(public_id, for_update=True)
        if current is None or current.status == "deleted":
            raise UserNotFound
        ended: list[Ended] = []
        if current.status != "deleting":
            revoked = set_access(uow, current, role=current.role, status="deleting", now=now)
            ErasureRepository(uow).mark_requested(current.id, at=now)
            ended = cancel_active_tasks(uow, current.id, now=now)
            MySQLAuditRepository(uow).add(
                AuditEntry(
                    actor_user_id=current.id if actor is None else actor.user.id,
                    action=DELETED,
                    target_type="user",
                    target_id=current.public_id,
                    after={"revoked_tokens": revoked, "canceled_tasks": len(ended)},
                )
            )
            uow.commit()
            logger.info("account deleted", extra={"user_id": public_id})
    forget_caller(public_id)
    for ending in ended:
        ending.announce(redis)
    return AccountDeletionRead(erased_within_s=settings.erasure_grace_s + JOB_INTERVAL_S)


def cancel_active_tasks(uow: UnitOfWork, user_id: int, *, now: datetime) -> list[Ended]:
    """Cancel the account's queued and running tasks in `uow` as their owner would (credits
    returned once; a step still running finds its task ended and stops)."""
    tasks = uow.repository(TaskRepository)
    ended: list[Ended] = []
    for public_id in ErasureRepository(uow).active_tasks(user_id):
        task = tasks.get_owned(public_id, user_id=user_id, for_update=True)
        ending = cancel_in(uow, task, now=now) if task and task.status in ACTIVE else None
        if ending is not None:
            ended.append(ending)
    return ended
