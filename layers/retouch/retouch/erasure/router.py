"""`DELETE /v1/me`: the owner deletes their account; `DELETE /v1/admin/users/{id}`: an
admin does.

The erasure's service (which ends the account's tasks, and so loads the tasks, the queue and
the storage) is imported by the first erasure, not with the users function: a rare route's
code stays off every cold start (docs/performance.md)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from retouch.auth.hashing import AuthBusy
from retouch.caller.dependencies import current_user_from_mysql, require_permission
from retouch.core.db import get_database
from retouch.core.errors import raises
from retouch.core.identity import Principal
from retouch.core.lockout import get_lockouts
from retouch.core.permissions import Permission
from retouch.core.ratelimit import RateLimited
from retouch.core.redis import get_redis
from retouch.core.settings import get_settings
from retouch.erasure.errors import PasswordNotConfirmed
from retouch.erasure.schemas import AccountDeletion, AccountDeletionRead
from retouch.http.rate_limits import client_address, limiter_for
from retouch.http.routing import api_router
from retouch.users.schemas import PublicUserId

me_router = api_router(prefix="/v1/me", tags=["me"])
admin_router = api_router(prefix="/v1/admin/users", tags=["admin"])


@me_router.delete("", status_code=202, response_model=AccountDeletionRead)
@raises(PasswordNotConfirmed, RateLimited, AuthBusy)
def delete_me(
    body: AccountDeletion,
    request: Request,
    principal: Annotated[Principal, Depends(current_user_from_mysql)],
) -> AccountDeletionRead:
    """Delete the account, confirmed with its password. It stops at once (every session and
    token of it is refused); its tasks, uploads and results are erased within
    `erased_within_s`, and what accounting must keep (the credit ledger, orders) is kept
    without anything that names the person. Asking again while it is erased answers the
    same. A wrong password counts as a failed sign-in."""
    from retouch.auth.attempts import LoginGuard
    from retouch.erasure import service  # the tasks' ending: loaded by an erasure, not at start

    return service.delete_account(
        database=get_database(),
        settings=get_settings(),
        redis=get_redis(),
        guard=LoginGuard(limiter=limiter_for(request.scope), lockouts=get_lockouts()),
        principal=principal,
        password=body.password,
        client_ip=client_address(request.scope),
    )


@admin_router.delete("/{user_id}", status_code=202, response_model=AccountDeletionRead)
def delete_user(
    user_id: Annotated[PublicUserId, Path(description="the user's public id (usr_...)")],
    caller: Annotated[Principal, Depends(require_permission(Permission.USERS_WRITE))],
) -> AccountDeletionRead:
    """Delete an account as its owner's `DELETE /v1/me` does, without its password (admins
    only; audited with the admin as actor). Again while it is erased: the same answer; once
    erased: 404. An admin deletes their own account through `/v1/me`."""
    from retouch.erasure import service

    return service.delete_user(
        database=get_database(),
        settings=get_settings(),
        redis=get_redis(),
        actor=caller,
        public_id=user_id,
    )
