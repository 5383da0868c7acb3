"""`/v1/me` and `/v1/admin/users`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query

from retouch.caller.dependencies import current_user, require_permission
from retouch.core.db import get_database
from retouch.core.errors import raises
from retouch.core.identity import Principal, UserStatus
from retouch.core.permissions import Permission, Role
from retouch.core.settings import get_settings
from retouch.http.dependencies import IdempotencyKeyHeader, RequestId
from retouch.http.routing import api_router
from retouch.idempotency.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from retouch.users import service
from retouch.users.schemas import (
    MAX_PAGE_SIZE,
    CreditGrant,
    CreditGrantRead,
    MembershipChange,
    MembershipChangeRead,
    MeRead,
    PublicUserId,
    UserAdminRead,
    UserPage,
    UserPatch,
)

me_router = api_router(prefix="/v1/me", tags=["me"])
admin_router = api_router(prefix="/v1/admin/users", tags=["admin"])


UserId = Annotated[PublicUserId, Path(description="the user's public id (usr_...)")]


@me_router.get("", response_model=MeRead)
def me(principal: Annotated[Principal, Depends(current_user)]) -> MeRead:
    """The signed-in user's profile and membership."""
    return service.get_me(principal=principal)


@admin_router.get("", response_model=UserPage)
def list_users(
    _caller: Annotated[Principal, Depends(require_permission(Permission.USERS_READ))],
    role: Role | None = None,
    status: UserStatus | None = None,
    email_prefix: Annotated[str | None, Query(min_length=1, max_length=254)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> UserPage:
    """Users newest first, filtered by role, status and email prefix; keyset pages."""
    return service.list_users(
        database=get_database(),
        role=role,
        status=status,
        email_prefix=None if email_prefix is None else email_prefix.strip().lower(),
        cursor=cursor,
        limit=limit,
    )


@admin_router.get("/{user_id}", response_model=UserAdminRead)
def get_user(
    user_id: UserId,
    _caller: Annotated[Principal, Depends(require_permission(Permission.USERS_READ))],
) -> UserAdminRead:
    """One user."""
    return service.get_user(database=get_database(), public_id=user_id)


@admin_router.patch("/{user_id}", response_model=UserAdminRead)
def update_user(
    user_id: UserId,
    patch: UserPatch,
    caller: Annotated[Principal, Depends(require_permission(Permission.USERS_WRITE))],
    request: RequestId,
) -> UserAdminRead:
    """Change a user's role or status (admins only; audited)."""
    return service.update_user(
        database=get_database(), actor=caller, public_id=user_id, patch=patch, request_id=request
    )


@admin_router.post(
    "/{user_id}/credits",
    response_model=CreditGrantRead,
)
@raises(IdempotencyKeyInUse, IdempotencyKeyReused)
def grant_credits(
    user_id: UserId,
    grant: CreditGrant,
    caller: Annotated[Principal, Depends(require_permission(Permission.CREDITS_GRANT))],
    request: RequestId,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CreditGrantRead:
    """Grant credits with a reason (admins only; audited, and in the user's ledger). Send an
    `Idempotency-Key` to retry safely: the same key, user and body answer the first
    response and grant nothing more."""
    return service.grant_credits(
        database=get_database(),
        settings=get_settings(),
        actor=caller,
        public_id=user_id,
        grant=grant,
        idempotency_key=idempotency_key,
        request_id=request,
    )


@admin_router.patch("/{user_id}/membership", response_model=MembershipChangeRead)
@raises(IdempotencyKeyInUse, IdempotencyKeyReused)
def change_membership(
    user_id: UserId,
    change: MembershipChange,
    caller: Annotated[Principal, Depends(require_permission(Permission.USERS_WRITE))],
    request: RequestId,
    idempotency_key: IdempotencyKeyHeader = None,
) -> MembershipChangeRead:
    """Give a user a plan from now until `expires_at` (admins only; audited). Other plans in
    force end now; the default plan is a downgrade. Send an `Idempotency-Key` to retry
    safely."""
    return service.change_membership(
        database=get_database(),
        settings=get_settings(),
        actor=caller,
        public_id=user_id,
        change=change,
        idempotency_key=idempotency_key,
        request_id=request,
    )
