"""`/v1/auth`: register, login, refresh, logout."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Response

from retouch.auth import refresh as rotation
from retouch.auth import service
from retouch.auth.attempts import LoginGuard
from retouch.auth.schemas import LoginRequest, RefreshRequest, RegisterRequest, TokenPair
from retouch.auth.tokens import client_fingerprint
from retouch.caller.dependencies import current_user
from retouch.core.db import get_database
from retouch.core.identity import Principal
from retouch.core.lockout import get_lockouts
from retouch.core.settings import get_settings
from retouch.http.rate_limits import client_address, limiter_for
from retouch.http.routing import api_router

router = api_router(prefix="/v1/auth", tags=["auth"])

_PROBLEMS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Wrong credentials or token (problem+json)"},
    422: {"description": "Invalid body (problem+json)"},
}


def _no_store(response: Response) -> None:
    # Tokens must not sit in any cache (RFC 6749 §5.1).
    response.headers["Cache-Control"] = "no-store"


def _client(request: Request) -> str:
    """The fingerprint of the client a refresh token is issued to (see retouch.auth.refresh)."""
    return client_fingerprint(
        get_settings(),
        client_ip=client_address(request.scope),
        user_agent=request.headers.get("user-agent", ""),
    )


@router.post(
    "/register",
    status_code=201,
    response_model=TokenPair,
    responses={409: {"description": "EMAIL_TAKEN"}, **_PROBLEMS},
)
def register(body: RegisterRequest, request: Request, response: Response) -> TokenPair:
    """Create an account; answers with its first token pair."""
    _no_store(response)
    return service.register(
        database=get_database(),
        settings=get_settings(),
        email=body.email,
        password=body.password,
        client=_client(request),
    )


@router.post(
    "/login",
    response_model=TokenPair,
    responses={
        429: {"description": "RATE_LIMITED (a limit, or the account locked), with Retry-After"},
        **_PROBLEMS,
    },
)
def login(body: LoginRequest, request: Request, response: Response) -> TokenPair:
    """Sign in with email and password."""
    _no_store(response)
    return service.login(
        database=get_database(),
        guard=LoginGuard(limiter=limiter_for(request.scope), lockouts=get_lockouts()),
        settings=get_settings(),
        email=body.email,
        password=body.password,
        client=_client(request),
        client_ip=client_address(request.scope),
    )


@router.post("/refresh", response_model=TokenPair, responses=_PROBLEMS)
def refresh(body: RefreshRequest, request: Request, response: Response) -> TokenPair:
    """Spend a refresh token for a new pair. The same client retrying within seconds gets
    the same pair's refresh token again; a spent token from anyone else ends the session."""
    _no_store(response)
    return rotation.refresh(
        database=get_database(),
        settings=get_settings(),
        refresh_token=body.refresh_token,
        client=_client(request),
        client_ip=client_address(request.scope),
    )


@router.post("/logout", status_code=204, response_class=Response, responses=_PROBLEMS)
def logout(principal: Annotated[Principal, Depends(current_user)]) -> Response:
    """End this session: its refresh tokens and access tokens stop working."""
    service.logout(database=get_database(), principal=principal)
    return Response(status_code=204)
