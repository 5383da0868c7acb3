"""Auth use cases: register, login, refresh (rotation with reuse detection), logout, and
authenticate (what every authenticated request runs).

A session is a refresh token family, started by register or login. Each refresh spends the
presented token and issues its child. Presenting a spent token again means two parties hold
it (RFC 9700 §4.14.2): the family is revoked and the event logged. Revoking a family also
denies its access tokens: each names its family (`sid`), and `authenticate` reads the
family's revocation in the same statement as the account.
One exception, the grace window: the token rotated less than RETOUCH_REFRESH_REUSE_GRACE_S ago
whose child is still unused (two tabs refreshing at once) is refused with 401 but revokes
nothing — the client keeps the pair the winning request received.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NoReturn, TypeVar

from retouch.auth.errors import (
    InvalidCredentials,
    InvalidRefreshToken,
)
from retouch.auth.schemas import TokenPair
from retouch.caller.repository import (
    MySQLRefreshTokenRepository,
    RefreshToken,
)
from retouch.core.db import Database, UnitOfWork
from retouch.core.identity import Principal, User
from retouch.core.ids import new_public_id
from retouch.core.logging import logger
from retouch.core.ratelimit import RateLimited, RateLimiter, configured_limits
from retouch.core.security import (
    TokenConfig,
    hash_password,
    issue_access_token,
    new_opaque_token,
    password_needs_rehash,
    token_digest,
    verify_password,
    verify_password_for_unknown_account,
)
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.quota.service import open_account
from retouch.users.repository import MySQLUserRepository
from retouch.users.schemas import UserRead

T = TypeVar("T")


def register(
    *, database: Database, settings: Settings, email: str, password: str, clock: Clock = utc_now
) -> TokenPair:
    """Create an account with its credits and a first session; EmailTaken if it exists."""
    password_hash = hash_password(password)  # before the transaction: no lock waits on Argon2
    now = clock()
    with database.unit_of_work() as uow:
        user = MySQLUserRepository(uow).add(
            public_id=new_public_id("usr"), email=email, password_hash=password_hash, now=now
        )
        open_account(uow=uow, user_id=user.id, clock=clock)
        refresh_token, session_id = _start_session(uow, settings, user=user, now=now)
        uow.commit()
    logger.info("user registered", extra={"user_id": user.public_id})
    return _pair(settings, user, refresh_token=refresh_token, session_id=session_id)


def login(
    *,
    database: Database,
    limiter: RateLimiter,
    settings: Settings,
    email: str,
    password: str,
    client_ip: str,
    clock: Clock = utc_now,
) -> TokenPair:
    """Check the password and start a session; one 401 for every kind of wrong."""
    _limit_login_attempts(limiter, email=email, client_ip=client_ip)
    now = clock()
    with database.unit_of_work() as uow:
        users = MySQLUserRepository(uow)
        user = users.get_by_email(email)
        if user is None:
            verify_password_for_unknown_account(password)
            raise InvalidCredentials
        if not verify_password(user.password_hash, password) or user.status != "active":
            raise InvalidCredentials
        if password_needs_rehash(user.password_hash):
            users.update_password_hash(user.id, hash_password(password))
        refresh_token, session_id = _start_session(uow, settings, user=user, now=now)
        uow.commit()
    return _pair(settings, user, refresh_token=refresh_token, session_id=session_id)


def refresh(
    *,
    database: Database,
    settings: Settings,
    refresh_token: str,
    clock: Clock = utc_now,
) -> TokenPair:
    """Spend `refresh_token` and issue the next pair of its session."""
    now = clock()
    with database.unit_of_work() as uow:
        tokens = MySQLRefreshTokenRepository(uow)
        current = tokens.get_for_update(token_digest(refresh_token))
        if current is None or current.revoked_at is not None:
            raise InvalidRefreshToken
        if current.used_at is not None:
            _reject_reuse(uow, tokens, settings, spent=current, used_at=current.used_at, now=now)
        user = MySQLUserRepository(uow).get_by_id(current.user_id)
        if current.expires_at <= now or user is None or user.status != "active":
            raise InvalidRefreshToken
        tokens.mark_used(current.id, at=now)
        next_token = _add_token(
            uow, settings, user=user, family_id=current.family_id, parent_id=current.id, now=now
        )
        uow.commit()
    return _pair(settings, user, refresh_token=next_token, session_id=current.family_id)


def logout(*, database: Database, principal: Principal, clock: Clock = utc_now) -> None:
    """End the caller's session: its refresh tokens and, with them, its access tokens (the
    one presented included) stop working at once."""
    with database.unit_of_work() as uow:
        MySQLRefreshTokenRepository(uow).revoke_family(principal.claims.session_id, at=clock())
        uow.commit()
    logger.info("user signed out", extra={"user_id": principal.public_id})


def _limit_login_attempts(limiter: RateLimiter, *, email: str, client_ip: str) -> None:
    # Checked before the account is looked up, so a refusal says nothing about the account.
    # Fail closed: with Redis down, login answers 503 rather than allow unlimited guessing.
    limits = configured_limits()
    for limit, key in (
        (limits.login_per_account_ip, f"{email}|{client_ip}"),
        (limits.login_per_ip, client_ip),
    ):
        decision = limiter.hit(limit, key)
        if not decision.allowed:
            raise RateLimited.from_decision(decision, "Too many sign-in attempts; try later")


def _reject_reuse(
    uow: UnitOfWork,
    tokens: MySQLRefreshTokenRepository,
    settings: Settings,
    *,
    spent: RefreshToken,
    used_at: datetime,
    now: datetime,
) -> NoReturn:
    child = tokens.child_of(spent.id)
    if (
        used_at + timedelta(seconds=settings.refresh_reuse_grace_s) > now
        and child is not None
        and child.used_at is None
        and child.revoked_at is None
    ):
        logger.info("refresh token reused within the grace", extra={"family": spent.family_id})
        raise InvalidRefreshToken
    tokens.revoke_family(spent.family_id, at=now)
    uow.commit()  # the revocation must stand although the request fails
    logger.warning(
        "security event: refresh token reuse, session revoked",
        extra={"security_event": "refresh_token_reuse", "family": spent.family_id},
    )
    raise InvalidRefreshToken


def _start_session(
    uow: UnitOfWork, settings: Settings, *, user: User, now: datetime
) -> tuple[str, str]:
    family_id = new_public_id("ses")
    token = _add_token(uow, settings, user=user, family_id=family_id, parent_id=None, now=now)
    return token, family_id


def _add_token(
    uow: UnitOfWork,
    settings: Settings,
    *,
    user: User,
    family_id: str,
    parent_id: int | None,
    now: datetime,
) -> str:
    token = new_opaque_token()
    MySQLRefreshTokenRepository(uow).add(
        token_hash=token_digest(token),
        family_id=family_id,
        parent_id=parent_id,
        user_id=user.id,
        issued_at=now,
        expires_at=now + timedelta(seconds=settings.refresh_token_ttl_s),
    )
    return token


def _pair(settings: Settings, user: User, *, refresh_token: str, session_id: str) -> TokenPair:
    config = TokenConfig.from_settings(settings)
    access = issue_access_token(
        config=config, subject=user.public_id, role=user.role, session_id=session_id
    )
    return TokenPair(
        user=UserRead.of(user),
        access_token=access.token,
        refresh_token=refresh_token,
        expires_in=config.ttl_s,
    )
