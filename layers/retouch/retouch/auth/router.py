"""`/v1/auth`: register, login, refresh, logout."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from retouch.auth import refresh as rotation
from retouch.auth import service
from retouch.auth.attempts import LoginGuard
from retouch.auth.schemas import LoginRequest, RefreshRequest, RegisterRequest, TokenPair
from retouch.auth.tokens import client_fingerprint
from retouch.caller.dependencies import current_user
from retouch.core.db import get_database
from retouch.core.errors import Unauthenticated, raises
from retouch.core.identity import Principal
from retouch.core.lockout import get_lockouts
from retouch.core.settings import get_settings
from retouch.http.rate_limits import client_address, limiter_for
from retouch.http.routing import api_router
from retouch.users.errors import EmailTaken

router = api_router(prefix="/v1/auth", tags=["auth"])


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
)
@raises(EmailTaken)
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


@router.post("/login", response_model=TokenPair)
@raises(Unauthenticated)
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


@router.post("/refresh", response_model=TokenPair)
@raises(Unauthenticated)
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


@router.post("/logout", status_code=204, response_class=Response)
def logout(principal: Annotated[Principal, Depends(current_user)]) -> Response:
    """End this session: its refresh tokens and access tokens stop working."""
    service.logout(database=get_database(), principal=principal)
    return Response(status_code=204)
