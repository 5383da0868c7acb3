"""`/v1/auth`: register, email verification, login, refresh, logout, password reset, the
CAPTCHA a client shows; `/v1/me/password`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response

from retouch.auth import passwords, service, verification
from retouch.auth import refresh as rotation
from retouch.auth.attempts import LoginGuard
from retouch.auth.captcha import (
    CaptchaFailed,
    CaptchaRequired,
    CaptchaUnavailable,
    captcha_routes,
    require_captcha,
)
from retouch.auth.hashing import AuthBusy
from retouch.auth.passwords import CurrentPasswordWrong, ResetTokenInvalid
from retouch.auth.schemas import (
    CaptchaConfig,
    CaptchaProof,
    EmailVerification,
    LoginRequest,
    PasswordChange,
    PasswordReset,
    RefreshRequest,
    RegisterRequest,
    RegistrationAccepted,
    ResetRequest,
    TokenPair,
    VerificationResend,
)
from retouch.auth.signup import (
    admit_code_attempt,
    admit_resend,
    admit_reset_request,
    admit_signup,
)
from retouch.auth.tokens import client_fingerprint
from retouch.auth.verification import VerificationTokenInvalid
from retouch.caller.dependencies import current_user, current_user_from_mysql
from retouch.core.db import get_database
from retouch.core.errors import Unauthenticated, raises
from retouch.core.identity import Principal
from retouch.core.lockout import get_lockouts
from retouch.core.ratelimit import RateLimited
from retouch.core.settings import get_settings
from retouch.core.settings.captcha import CaptchaRoute
from retouch.http.problems import negotiate_language
from retouch.http.rate_limits import client_address, limiter_for
from retouch.http.routing import api_router
from retouch.notify.mailer import get_mailer

router = api_router(prefix="/v1/auth", tags=["auth"])
me_router = api_router(prefix="/v1/me", tags=["me"])


def _no_store(response: Response) -> None:
    # Tokens must not sit in any cache (RFC 6749 §5.1).
    response.headers["Cache-Control"] = "no-store"


def _language(request: Request) -> str:
    return negotiate_language(request.headers.get("accept-language"))


def _client(request: Request) -> str:
    """The fingerprint of the client a refresh token is issued to (see retouch.auth.refresh)."""
    return client_fingerprint(
        get_settings(),
        client_ip=client_address(request.scope),
        user_agent=request.headers.get("user-agent", ""),
    )


Captcha = Annotated[CaptchaProof, Depends()]
_CAPTCHA_ERRORS = (CaptchaRequired, CaptchaFailed, CaptchaUnavailable)


def _check_captcha(request: Request, route: CaptchaRoute, captcha: CaptchaProof) -> None:
    require_captcha(
        get_settings(),
        route=route,
        token=captcha.token,
        randstr=captcha.randstr,
        client_ip=client_address(request.scope),
    )


@router.get("/captcha", response_model=CaptchaConfig)
def captcha(response: Response) -> CaptchaConfig:
    """Whether a CAPTCHA token is asked for, on which routes, and the kind of CAPTCHA and
    public site key (hCaptcha sitekey, Tencent CaptchaAppId) the client's widget uses; no sign-in
    needed. The token goes in `X-Captcha-Token` (Tencent's `randstr` in
    `X-Captcha-Randstr`)."""
    response.headers["Cache-Control"] = f"public, max-age={CaptchaConfig.MAX_AGE_S}"
    settings = get_settings()
    routes = captcha_routes(settings)
    if not routes:
        return CaptchaConfig(kind="off", site_key=None, required_for=[])
    return CaptchaConfig(
        kind=settings.captcha_provider, site_key=settings.captcha_site_key, required_for=routes
    )


@router.post("/register", status_code=202, response_model=RegistrationAccepted)
@raises(RateLimited, AuthBusy, *_CAPTCHA_ERRORS)
def register(body: RegisterRequest, request: Request, captcha: Captcha) -> RegistrationAccepted:
    """Start an account: a verification link is mailed to the address, or, when it has an
    account already, a notice to its owner. The answer is the same either way. Limited per
    address, per network and across the service; then, when `GET /v1/auth/captcha` names
    `register`, the CAPTCHA token is checked before anything is hashed."""
    settings = get_settings()
    admit_signup(limiter_for(request.scope), settings, client_ip=client_address(request.scope))
    _check_captcha(request, "register", captcha)
    service.register(
        database=get_database(),
        settings=settings,
        email=body.email,
        password=body.password,
        mailer=get_mailer(),
        language=_language(request),
    )
    return RegistrationAccepted()


@router.post("/verify", response_model=TokenPair)
@raises(VerificationTokenInvalid, RateLimited)
def verify_email(body: EmailVerification, request: Request, response: Response) -> TokenPair:
    """Confirm the address with the mailed link's token, or the address and the mailed code
    (once, before it expires; codes tried are limited per address): the account's credits are
    granted and its owner is signed in; any earlier session of it ends."""
    _no_store(response)
    settings = get_settings()
    if body.token is None:
        admit_code_attempt(limiter_for(request.scope), settings, email=body.email or "")
    return verification.verify_email(
        database=get_database(), settings=settings, proof=body, client=_client(request)
    )


@router.post("/verify/resend", status_code=202, response_class=Response)
@raises(RateLimited, *_CAPTCHA_ERRORS)
def resend_verification(body: VerificationResend, request: Request, captcha: Captcha) -> Response:
    """Mail a new verification link if the address has an unverified account. The answer is
    the same whatever the address. A CAPTCHA token when `GET /v1/auth/captcha` names
    `verify_resend`."""
    settings = get_settings()
    admit_resend(limiter_for(request.scope), settings, client_ip=client_address(request.scope))
    _check_captcha(request, "verify_resend", captcha)
    verification.resend(
        database=get_database(),
        settings=settings,
        mailer=get_mailer(),
        email=body.email,
        language=_language(request),
    )
    return Response(status_code=202)


@router.post("/password/forgot", status_code=202, response_class=Response)
@raises(RateLimited, *_CAPTCHA_ERRORS)
def forgot_password(body: ResetRequest, request: Request, captcha: Captcha) -> Response:
    """Mail a password reset link to the address if it has an account. The answer is the
    same whether it has one or not. A CAPTCHA token when `GET /v1/auth/captcha` names
    `password_forgot`."""
    settings = get_settings()
    admit_reset_request(
        limiter_for(request.scope), settings, client_ip=client_address(request.scope)
    )
    _check_captcha(request, "password_forgot", captcha)
    passwords.request_reset(
        database=get_database(),
        settings=settings,
        mailer=get_mailer(),
        email=body.email,
        language=_language(request),
    )
    return Response(status_code=202)


@router.post("/password/reset", status_code=204, response_class=Response)
@raises(ResetTokenInvalid, AuthBusy)
def reset_password(body: PasswordReset) -> Response:
    """Set a new password with the mailed token (once, before it expires); every session of
    the account ends."""
    passwords.reset_password(
        database=get_database(),
        settings=get_settings(),
        token=body.token,
        new_password=body.password,
    )
    return Response(status_code=204)


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


@me_router.post("/password", status_code=204, response_class=Response)
@raises(CurrentPasswordWrong, AuthBusy)
def change_password(
    body: PasswordChange, principal: Annotated[Principal, Depends(current_user_from_mysql)]
) -> Response:
    """Change the password, giving the current one; every other session ends, this one stays."""
    passwords.change_password(
        database=get_database(),
        settings=get_settings(),
        principal=principal,
        current_password=body.current_password,
        new_password=body.new_password,
    )
    return Response(status_code=204)
