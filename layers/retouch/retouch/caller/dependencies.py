"""Request dependencies: the authenticated caller and the role check every protected route uses.

They are `async def` on purpose: FastAPI runs a plain `def` dependency in a worker thread,
which under Mangum costs a thread start per invocation (see retouch.http.routing). The work
inside is synchronous and short (a JWT check and, unless the caller came from the cache the
rate limiter's round trip read, one indexed SELECT), so it runs inline on the invocation's
loop, like the inline routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from retouch.caller.attachments import AttachedRead
from retouch.caller.service import authenticate, authenticate_with
from retouch.caller.stream_tokens import authenticate_stream
from retouch.core.caller_cache import PREFETCH_STATE, Prefetched
from retouch.core.db import get_database
from retouch.core.errors import Forbidden, Unauthenticated, raises
from retouch.core.identity import Principal
from retouch.core.logging import logger
from retouch.core.permissions import Permission, Role, roles_with
from retouch.core.security import TokenConfig
from retouch.core.settings import get_settings

T = TypeVar("T")
_bearer = HTTPBearer(auto_error=False, description="Access token from /v1/auth/login")


async def current_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The caller of this request; 401 without a valid token of an active user's live session."""
    token = _token(credentials)
    principal = authenticate(
        database=get_database(),
        config=TokenConfig.from_settings(get_settings()),
        access_token=token,
        prefetched=_prefetched(request),
    )
    return _noted(request, principal)


async def current_user_from_mysql(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """`current_user` read from MySQL whatever the cache holds, with the password hash: for
    the routes that check the caller's password (the cached record has none)."""
    principal = authenticate(
        database=get_database(),
        config=TokenConfig.from_settings(get_settings()),
        access_token=_token(credentials),
    )
    return _noted(request, principal)


def _prefetched(request: Request) -> Prefetched | None:
    found: Prefetched | None = request.scope.get("state", {}).get(PREFETCH_STATE)
    return found


def current_user_with(
    read_of: Callable[[Request], AttachedRead[T] | None],
) -> Callable[..., Awaitable[tuple[Principal, T | None]]]:
    """`current_user` that also reads one row of the caller's in the caller's own statement:
    `read_of(request)` names it (None: nothing to read, e.g. a malformed id). The dependency
    gives the principal and the row's record (None when the caller has none)."""

    async def caller_with_row(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> tuple[Principal, T | None]:
        read = read_of(request)
        if read is None:
            return await current_user(request, credentials), None
        principal, attached = authenticate_with(
            database=get_database(),
            config=TokenConfig.from_settings(get_settings()),
            access_token=_token(credentials),
            read=read,
            prefetched=_prefetched(request),
        )
        return _noted(request, principal), attached

    return caller_with_row


async def current_streamer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[
        str | None,
        Query(
            max_length=2048,
            description="a stream token from `POST /v1/tasks/{task_id}/events-token`, for "
            "clients that cannot send headers (EventSource); never an access token",
        ),
    ] = None,
) -> Principal:
    """The caller of a task's event stream: by its stream token (`?token=`, for this task
    only) or, without one, by the access token in `Authorization`."""
    if token is None:
        return await current_user(request, credentials)
    principal = authenticate_stream(
        database=get_database(),
        config=TokenConfig.from_settings(get_settings()),
        token=token,
        task_id=str(request.path_params.get("task_id", "")),
    )
    return _noted(request, principal)


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None:
        raise Unauthenticated("Send an access token: Authorization: Bearer <token>")
    return credentials.credentials


def _noted(request: Request, principal: Principal) -> Principal:
    # The access log line of this request names the user (public id only).
    request.scope.setdefault("state", {})["user_id"] = principal.public_id
    logger.thread_safe_append_keys(user_id=principal.public_id)
    return principal


def require_role(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting only callers whose current role is one of `roles` (else 403)."""
    allowed = frozenset(roles)

    @raises(Forbidden)
    async def caller_with_role(principal: Annotated[Principal, Depends(current_user)]) -> Principal:
        if principal.role not in allowed:
            raise Forbidden("Your role does not allow this")
        return principal

    return caller_with_role


def require_permission(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """`require_role` with the roles the permission table grants `permission`."""
    return require_role(*roles_with(permission))
