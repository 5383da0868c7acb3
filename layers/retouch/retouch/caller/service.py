"""Authenticate: what every authenticated request runs. The access token is verified, then the
account, its session's revocation and its membership come from what the request prefetched
from Redis in the rate limiter's round trip (`caller.cached`), else from one MySQL statement
(then written back). Every change of who the caller is invalidates the cached record after it
commits, so a disabled account or a revoked session is refused at once."""

from __future__ import annotations

from typing import TypeVar

from retouch.caller.attachments import AttachedRead
from retouch.caller.cached import from_cache, refill
from retouch.caller.errors import InactiveAccount, RevokedAccessToken
from retouch.caller.repository import MySQLCallerRepository
from retouch.caller.schemas import CallerRecord
from retouch.core.caller_cache import Prefetched
from retouch.core.db import Database
from retouch.core.identity import CurrentMembership, Principal
from retouch.core.security import AccessClaims, TokenConfig, verify_access_token
from retouch.core.settings import get_settings
from retouch.core.time import Clock, utc_now

T = TypeVar("T")


def authenticate(
    *,
    database: Database,
    config: TokenConfig,
    access_token: str,
    clock: Clock = utc_now,
    prefetched: Prefetched | None = None,
) -> Principal:
    """The caller behind an access token: its account, session and membership from the cached
    record `prefetched` holds, else from one statement (and written back)."""
    claims = verify_access_token(access_token, config=config)
    return authenticate_claims(database=database, claims=claims, clock=clock, prefetched=prefetched)


def authenticate_claims(
    *,
    database: Database,
    claims: AccessClaims,
    clock: Clock = utc_now,
    prefetched: Prefetched | None = None,
) -> Principal:
    """The caller named by verified claims (an access token's, or a stream token's)."""
    now = clock()
    found = from_cache(prefetched, claims, now)
    if found is None:
        with database.read_only() as uow:
            found = MySQLCallerRepository(uow).caller(
                public_id=claims.subject, session_id=claims.session_id, now=now
            )
        refill(prefetched, claims, found)
    return _principal(found, claims)


def authenticate_with(
    *,
    database: Database,
    config: TokenConfig,
    access_token: str,
    read: AttachedRead[T],
    clock: Clock = utc_now,
    prefetched: Prefetched | None = None,
) -> tuple[Principal, T | None]:
    """`authenticate`, also reading the row of the caller's that `read` names (its record, or
    None when the caller has none): alone when the caller was cached, else in the caller's
    statement."""
    claims = verify_access_token(access_token, config=config)
    now = clock()
    cached = from_cache(prefetched, claims, now)
    if cached is not None:
        principal = _principal(cached, claims)  # refused before anything else is read
        with database.read_only() as uow:
            return principal, MySQLCallerRepository(uow).attached(principal.user.id, read)
    with database.read_only() as uow:
        found, attached = MySQLCallerRepository(uow).caller_with(
            public_id=claims.subject, session_id=claims.session_id, now=now, read=read
        )
    refill(prefetched, claims, found)
    return _principal(found, claims), attached


def _principal(found: CallerRecord, claims: AccessClaims) -> Principal:
    if found.session_revoked:
        raise RevokedAccessToken
    if found.user is None or found.user.status != "active":
        raise InactiveAccount
    return Principal(
        user=found.user, claims=claims, membership=membership_or_default(found.membership)
    )


def membership_or_default(found: CurrentMembership | None) -> CurrentMembership:
    """`found`, or the default plan, open-ended, once every membership has expired (the rule
    of `quota.periods.current_membership`, for the caller lookup, which reads the membership
    itself)."""
    return found or CurrentMembership(plan_code=get_settings().default_plan, expires_at=None)
