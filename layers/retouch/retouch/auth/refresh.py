"""Refresh: spend a refresh token for the next pair of its session, with reuse detection.

Rotation (RFC 9700 §4.14.2): each refresh spends the presented token (`used_at`) and issues
its child; the family is the session. A spent token presented again means two parties may
hold it; the server cannot tell which is the thief, so it revokes the family — every token
of it, the newest included, and with them its access tokens (`sid`) — and records an audit
row and a `security_event: refresh_token_reuse` warning.

The grace window (`RETOUCH_REFRESH_REUSE_GRACE_S`, 10 s) is the one exception, and it is
bound to the client. A client whose refresh was rotated but whose answer was lost (a dropped
connection, two tabs refreshing at once) presents the same token again within seconds. If the
token was rotated less than the grace ago, its child is still unspent, and the client
presenting it is the one the child was issued to (the keyed digest of address and User-Agent
recorded with the child), the same child comes back with a new access token: the retry is
idempotent and nothing is revoked. Any other reuse — from another client, after the window,
or of a token whose child is spent — revokes the family. So an attacker who rotates a stolen
token first does not keep the session when the victim's refresh lands within the window:
the victim's client is not the attacker's, the family is revoked, and the attacker's child
dies with it. The cost: a client that changes address within the window (Wi-Fi to mobile
mid-refresh) is signed out. RFC 9700 leaves the leeway to the server; this keeps it only
where it cannot help a second party.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NoReturn

from retouch.auth import events
from retouch.auth.errors import InvalidRefreshToken
from retouch.auth.schemas import TokenPair
from retouch.auth.tokens import add_token, child_token, token_pair
from retouch.caller.cached import forget_caller
from retouch.caller.repository import MySQLRefreshTokenRepository, RefreshToken
from retouch.core.db import Database, UnitOfWork
from retouch.core.identity import User
from retouch.core.logging import logger
from retouch.core.security import token_digest
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.users.repository import MySQLUserRepository


def refresh(
    *,
    database: Database,
    settings: Settings,
    refresh_token: str,
    client: str,
    client_ip: str,
    clock: Clock = utc_now,
) -> TokenPair:
    """Spend `refresh_token` and issue the next pair of its session to `client` (its
    fingerprint, `tokens.client_fingerprint`); `client_ip` goes into a reuse's audit row."""
    now = clock()
    next_token = child_token(settings, refresh_token)
    with database.unit_of_work() as uow:
        tokens = MySQLRefreshTokenRepository(uow)
        current = tokens.get_for_update(token_digest(refresh_token))
        if current is None or current.revoked_at is not None:
            raise InvalidRefreshToken
        user = MySQLUserRepository(uow).get_by_id(current.user_id)
        if user is None or user.status != "active":
            raise InvalidRefreshToken
        if current.used_at is not None:
            child = _reissuable_child(
                tokens, settings, spent=current, used_at=current.used_at, client=client, now=now
            )
            if child is None or child.token_hash != token_digest(next_token):
                _revoke_family(uow, tokens, spent=current, owner=user, client_ip=client_ip, now=now)
            return token_pair(settings, user, refresh_token=next_token, session_id=child.family_id)
        if current.expires_at <= now:
            raise InvalidRefreshToken
        tokens.mark_used(current.id, at=now)
        add_token(
            uow,
            settings,
            token=next_token,
            user=user,
            family_id=current.family_id,
            parent_id=current.id,
            client=client,
            now=now,
        )
        uow.commit()
    return token_pair(settings, user, refresh_token=next_token, session_id=current.family_id)


def _reissuable_child(
    tokens: MySQLRefreshTokenRepository,
    settings: Settings,
    *,
    spent: RefreshToken,
    used_at: datetime,
    client: str,
    now: datetime,
) -> RefreshToken | None:
    """The child of `spent` to answer again, or None when this reuse must revoke."""
    if used_at + timedelta(seconds=settings.refresh_reuse_grace_s) <= now:
        return None
    child = tokens.child_of(spent.id)
    if child is None or child.used_at is not None or child.revoked_at is not None:
        return None
    if child.client_hash != client or child.expires_at <= now:
        return None
    logger.info("refresh retried within the grace: same child", extra={"family": spent.family_id})
    return child


def _revoke_family(
    uow: UnitOfWork,
    tokens: MySQLRefreshTokenRepository,
    *,
    spent: RefreshToken,
    owner: User,
    client_ip: str,
    now: datetime,
) -> NoReturn:
    revoked = tokens.revoke_family(spent.family_id, at=now)
    events.refresh_reused(
        uow, owner=owner, session_id=spent.family_id, revoked=revoked, client_ip=client_ip
    )
    uow.commit()  # the revocation must stand although the request fails
    forget_caller(owner.public_id)
    logger.warning(
        "security event: refresh token reuse, session revoked",
        extra={"security_event": "refresh_token_reuse", "family": spent.family_id},
    )
    raise InvalidRefreshToken
