"""Request dependencies: the authenticated caller and the role check every protected route uses.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread,
which under Mangum costs a thread start per invocation (see retouch.http.routing). The work
inside is synchronous and short (a JWT check and one indexed SELECT), so
it runs inline on the invocation's loop, like the inline routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from retouch.auth.attachments import CallerAttachment
from retouch.auth.service import authenticate_with
from retouch.core.db import Row, get_database
from retouch.core.errors import Forbidden, Unauthenticated
from retouch.core.identity import Principal
from retouch.core.logging import logger
from retouch.core.permissions import Permission, Role, roles_with
from retouch.core.security import TokenConfig
from retouch.core.settings import get_settings

_bearer = HTTPBearer(auto_error=False, description="Access token from /v1/auth/login")


async def current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller of this request; 401 without a valid token of an active user's live session."""
    principal, _ = _authenticated(request, credentials, None)
    return principal


CallerWithRow = tuple[Principal, Row | None]


def current_user_with(
    attachment_of: Callable[[Request], CallerAttachment | None],
) -> Callable[..., Awaitable[CallerWithRow]]:
    """`current_user` that also reads one row of the caller's in the caller's own statement:
    `attachment_of(request)` names it (None: nothing to attach, e.g. a malformed id). The
    dependency gives the principal and the attached columns (None without an attachment)."""

    async def caller_with_row(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> CallerWithRow:
        return _authenticated(request, credentials, attachment_of(request))

    return caller_with_row


def _authenticated(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    attachment: CallerAttachment | None,
) -> CallerWithRow:
    if credentials is None:
        raise Unauthenticated("Send an access token: Authorization: Bearer <token>")
    principal, attached = authenticate_with(
        database=get_database(),
        config=TokenConfig.from_settings(get_settings()),
        access_token=credentials.credentials,
        attachment=attachment,
    )
    # The access log line of this request names the user (public id only).
    request.scope.setdefault("state", {})["user_id"] = principal.public_id
    logger.thread_safe_append_keys(user_id=principal.public_id)
    return principal, attached


def require_role(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only callers whose current role is one of `roles` (else 403)."""
    allowed = frozenset(roles)

    async def caller_with_role(principal: Annotated[Principal, Depends(current_user)]) -> Principal:
        if principal.role not in allowed:
            raise Forbidden("Your role does not allow this")
        return principal

    return caller_with_role


def require_permission(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """`require_role` with the roles the permission table grants `permission`."""
    return require_role(*roles_with(permission))


async def request_id(request: Request) -> str | None:
    """The request id the middleware chose (for audit rows)."""
    state = request.scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else None
