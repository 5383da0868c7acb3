"""Sessions' tokens: starting a family, adding a refresh token, the token pair answered, and
the two keyed digests rotation relies on.

A refresh token is 256 random bits at sign-in; each rotation's child is derived from its
parent (HMAC-SHA256 under a key derived from the active JWT key): only the server can compute
it, and the server can compute it *again* — which is how a client that retries a refresh
within the grace window gets back the very child it was issued (`retouch.auth.refresh`)
although only digests are stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta

from retouch.auth.schemas import TokenPair
from retouch.caller.repository import MySQLRefreshTokenRepository
from retouch.core.db import UnitOfWork
from retouch.core.identity import User
from retouch.core.ids import new_public_id
from retouch.core.security import (
    TokenConfig,
    derived_key,
    issue_access_token,
    new_opaque_token,
    token_digest,
)
from retouch.core.settings import Settings
from retouch.users.schemas import UserRead


def client_fingerprint(settings: Settings, *, client_ip: str, user_agent: str) -> str:
    """The keyed digest (hex) of a client: its address (IPv6 per /64) and User-Agent. Keyed,
    so a read of `refresh_tokens` cannot test addresses against it."""
    key = derived_key(settings, "refresh-client")
    return hmac.new(key, f"{client_ip}\n{user_agent}".encode(), hashlib.sha256).hexdigest()


def child_token(settings: Settings, parent: str) -> str:
    """The refresh token that replaces `parent` when it is rotated (always the same one)."""
    mac = hmac.new(derived_key(settings, "refresh-child"), parent.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()


def start_session(
    uow: UnitOfWork, settings: Settings, *, user: User, client: str | None, now: datetime
) -> tuple[str, str]:
    """A new family with its first refresh token, issued to `client`: (token, family id)."""
    family_id = new_public_id("ses")
    token = new_opaque_token()
    add_token(
        uow,
        settings,
        token=token,
        user=user,
        family_id=family_id,
        parent_id=None,
        client=client,
        now=now,
    )
    return token, family_id


def add_token(
    uow: UnitOfWork,
    settings: Settings,
    *,
    token: str,
    user: User,
    family_id: str,
    parent_id: int | None,
    client: str | None,
    now: datetime,
) -> None:
    """Store `token` (its digest) in `family_id`, as the child of `parent_id`."""
    MySQLRefreshTokenRepository(uow).add(
        token_hash=token_digest(token),
        family_id=family_id,
        parent_id=parent_id,
        user_id=user.id,
        client_hash=client,
        issued_at=now,
        expires_at=now + timedelta(seconds=settings.refresh_token_ttl_s),
    )


def token_pair(settings: Settings, user: User, *, refresh_token: str, session_id: str) -> TokenPair:
    """The answer of register, login and refresh: a new access token and `refresh_token`."""
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
