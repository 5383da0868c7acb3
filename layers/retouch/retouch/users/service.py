"""User use cases: the caller's profile, and the admin user list, changes and credit grants.

Every admin write records an audit row (actor, action, target, before/after, request id) in
the transaction of the write, so a change without its audit row cannot exist.
"""

from __future__ import annotations

from datetime import datetime

from retouch.audit.repository import MySQLAuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.caller.cached import forget_caller
from retouch.caller.repository import MySQLRefreshTokenRepository
from retouch.core.db import Database, UnitOfWork
from retouch.core.identity import Principal, User, UserStatus
from retouch.core.ids import new_public_id
from retouch.core.logging import logger
from retouch.core.pagination import InvalidCursor, decode_cursor, encode_cursor
from retouch.core.permissions import Role
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.idempotency import IdempotencyKey, KeyClaim, complete, run_once
from retouch.quota.memberships import change_membership as change_quota_membership
from retouch.quota.periods import current_membership
from retouch.quota.service import grant_credits as grant_quota_credits
from retouch.users.errors import CannotChangeOwnAccess, UserNotFound
from retouch.users.repository import MySQLUserRepository
from retouch.users.schemas import (
    CreditGrant,
    CreditGrantRead,
    MembershipChange,
    MembershipChangeRead,
    MembershipRead,
    MeRead,
    UserAdminRead,
    UserPage,
    UserPatch,
)

#: The Idempotency-Key scope of `POST /v1/admin/users/{id}/credits`.
GRANT_OPERATION = "admin_users_grant_credits"
#: The Idempotency-Key scope of `PATCH /v1/admin/users/{id}/membership`.
MEMBERSHIP_OPERATION = "admin_users_membership"


def get_me(*, principal: Principal) -> MeRead:
    """The caller's profile with the membership in force (read with the caller: no I/O)."""
    user, membership = principal.user, principal.membership
    return MeRead(
        id=user.public_id,
        email=user.email,
        role=user.role,
        created_at=user.created_at,
        email_verified=user.email_verified,
        membership=MembershipRead(plan=membership.plan_code, expires_at=membership.expires_at),
    )


def list_users(
    *,
    database: Database,
    role: Role | None,
    status: UserStatus | None,
    email_prefix: str | None,
    cursor: str | None,
    limit: int,
) -> UserPage:
    """One page of users, newest first, with the cursor of the next page."""
    after = None if cursor is None else _after(cursor)
    with database.unit_of_work() as uow:
        users = MySQLUserRepository(uow).page(
            role=role, status=status, email_prefix=email_prefix, after=after, limit=limit + 1
        )
    page = users[:limit]
    last = page[-1] if page else None
    return UserPage(
        items=[UserAdminRead.of(user) for user in page],
        next_cursor=(
            encode_cursor((last.created_at.isoformat(), last.public_id))
            if last is not None and len(users) > limit
            else None
        ),
    )


def get_user(*, database: Database, public_id: str) -> UserAdminRead:
    """One user as operators and admins see them; 404 when there is none."""
    with database.unit_of_work() as uow:
        user = MySQLUserRepository(uow).get_by_public_id(public_id)
    if user is None:
        raise UserNotFound
    return UserAdminRead.of(user)


def update_user(
    *,
    database: Database,
    actor: Principal,
    public_id: str,
    patch: UserPatch,
    request_id: str | None,
    clock: Clock = utc_now,
) -> UserAdminRead:
    """Change a user's role and/or status. Disabling also ends all their sessions; their
    access tokens stop at once because every request reads the account's status."""
    if public_id == actor.public_id:
        raise CannotChangeOwnAccess("Another admin must change your role or status")
    now = clock()
    with database.unit_of_work() as uow:
        before = _locked_user(uow, public_id)
        if before.status in ("deleting", "deleted"):
            raise UserNotFound  # deleted by its owner: nothing may bring it back
        role, status = patch.role or before.role, patch.status or before.status
        set_access(uow, before, role=role, status=status, now=now)
        _audit(
            uow,
            actor=actor,
            action="user.update",
            target=before,
            request_id=request_id,
            before={"role": before.role, "status": before.status},
            after={"role": role, "status": status},
        )
        after = _locked_user(uow, public_id)  # with its new updated_at
        uow.commit()
    forget_caller(public_id)
    logger.info("user updated", extra={"target": public_id, "role": role, "status": status})
    return UserAdminRead.of(after)


def grant_credits(
    *,
    database: Database,
    settings: Settings,
    actor: Principal,
    public_id: str,
    grant: CreditGrant,
    idempotency_key: str | None,
    request_id: str | None,
    clock: Clock = utc_now,
) -> CreditGrantRead:
    """Add credits to a user's balance, with the reason in the ledger and the audit log.

    With an `Idempotency-Key` (the admin's own) the same key, user and grant answer the
    first response again and grant nothing more; the key while its first request runs is
    IdempotencyKeyInUse (409), and the key with another user or grant IdempotencyKeyReused
    (422)."""

    def add(claim: KeyClaim | None) -> CreditGrantRead:
        with database.unit_of_work() as uow:
            target = _locked_user(uow, public_id)
            ref = new_public_id("grt")
            balance = grant_quota_credits(
                uow=uow, user_id=target.id, amount=grant.amount, reason=grant.reason, ref=ref
            )
            _audit(
                uow,
                actor=actor,
                action="user.grant_credits",
                target=target,
                request_id=request_id,
                before={"balance": balance - grant.amount},
                after={
                    "balance": balance,
                    "amount": grant.amount,
                    "reason": grant.reason,
                    "ref": ref,
                },
            )
            granted = CreditGrantRead(
                user_id=target.public_id, amount=grant.amount, balance=balance
            )
            complete(uow, claim, status=200, body=granted.model_dump_json())
            uow.commit()
        return granted

    return run_once(
        database=database,
        settings=settings,
        key=IdempotencyKey.sent(
            user_id=actor.user.id, operation=GRANT_OPERATION, header=idempotency_key
        ),
        body={"user_id": public_id, **grant.model_dump(mode="json")},
        run=add,
        replay=CreditGrantRead.model_validate_json,
        clock=clock,
    )


def change_membership(
    *,
    database: Database,
    settings: Settings,
    actor: Principal,
    public_id: str,
    change: MembershipChange,
    idempotency_key: str | None,
    request_id: str | None,
    clock: Clock = utc_now,
) -> MembershipChangeRead:
    """Give a user a plan from now until an expiry (audited, with the plan before and after).

    The Idempotency-Key works as for a credit grant: the same key, user and body answer the
    first response again and change nothing more."""

    def change_plan(claim: KeyClaim | None) -> MembershipChangeRead:
        with database.unit_of_work() as uow:
            target = _locked_user(uow, public_id)
            before = current_membership(uow, user_id=target.id, now=clock())
            after = change_quota_membership(
                uow=uow,
                user_id=target.id,
                plan_code=change.plan,
                expires_at=change.expires_at,
                clock=clock,
            )
            read = MembershipRead(plan=after.plan.code, expires_at=after.expires_at)
            _audit(
                uow,
                actor=actor,
                action="user.change_membership",
                target=target,
                request_id=request_id,
                before=MembershipRead(
                    plan=before.plan.code, expires_at=before.expires_at
                ).model_dump(mode="json"),
                after={**read.model_dump(mode="json"), "reason": change.reason},
            )
            changed = MembershipChangeRead(user_id=target.public_id, membership=read)
            complete(uow, claim, status=200, body=changed.model_dump_json())
            uow.commit()
        forget_caller(target.public_id)
        logger.info("membership changed", extra={"target": public_id, "plan": change.plan})
        return changed

    return run_once(
        database=database,
        settings=settings,
        key=IdempotencyKey.sent(
            user_id=actor.user.id, operation=MEMBERSHIP_OPERATION, header=idempotency_key
        ),
        body={"user_id": public_id, **change.model_dump(mode="json")},
        run=change_plan,
        replay=MembershipChangeRead.model_validate_json,
        clock=clock,
    )


def set_access(
    uow: UnitOfWork, user: User, *, role: Role, status: UserStatus, now: datetime
) -> int:
    """Give `user` `role` and `status` in `uow`; an account leaving `active` (disabled by an
    admin, deleted by its owner) also loses every session, so its access tokens stop at once
    (every request reads the status). The number of refresh tokens revoked."""
    MySQLUserRepository(uow).update_access(user.id, role=role, status=status)
    if status == "active" or user.status == status:
        return 0
    return MySQLRefreshTokenRepository(uow).revoke_all_of_user(user.id, at=now)


def _locked_user(uow: UnitOfWork, public_id: str) -> User:
    user = MySQLUserRepository(uow).get_by_public_id(public_id, for_update=True)
    if user is None:
        raise UserNotFound
    return user


def _audit(
    uow: UnitOfWork,
    *,
    actor: Principal,
    action: str,
    target: User,
    request_id: str | None,
    before: dict[str, object],
    after: dict[str, object],
) -> None:
    MySQLAuditRepository(uow).add(
        AuditEntry(
            actor_user_id=actor.user.id,
            action=action,
            target_type="user",
            target_id=target.public_id,
            request_id=request_id,
            before=before,
            after=after,
        )
    )


def _after(cursor: str) -> tuple[datetime, str]:
    created_at, public_id = decode_cursor(cursor, (str, str))
    try:
        moment = datetime.fromisoformat(str(created_at))
    except ValueError:
        raise InvalidCursor from None
    if moment.tzinfo is None:
        raise InvalidCursor
    return moment, str(public_id)
