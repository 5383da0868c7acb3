"""Stream tokens: what a browser's `EventSource` (which cannot send headers) authenticates a
task's event stream with, in `?token=`.

A stream token is a JWT signed with the access tokens' keys, but it is not one: its `typ` is
`stream+jwt` and its `aud` is `events`, so it is refused where an access token is expected and
an access token is refused here. It names one task (`task`) of one user (`sub`, with the
session `sid` it was issued in), and lives `RETOUCH_TASK_EVENTS_TOKEN_TTL_S` (5 minutes by
default). It may be presented again while it lives, since `EventSource` reconnects with the
same URL. The caller behind it is looked up like an access token's, so signing out or a
disabled account ends its use at once.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import jwt

from retouch.caller.service import authenticate_claims
from retouch.core.db import Database
from retouch.core.errors import Unauthenticated
from retouch.core.identity import Principal
from retouch.core.security import ALGORITHM, AccessClaims, TokenConfig, sign_token
from retouch.core.time import Clock, utc_now

STREAM_TOKEN_TYPE = "stream+jwt"  # noqa: S105 - a media type, not a secret
STREAM_AUDIENCE = "events"
_REQUIRED = ["iss", "aud", "sub", "exp", "iat", "jti", "role", "sid", "task"]
_INVALID = "The stream token is invalid or has expired"


@dataclass(frozen=True)
class StreamToken:
    token: str
    expires_in: int


def issue_stream_token(
    *, config: TokenConfig, principal: Principal, task_id: str, ttl_s: int, now: int | None = None
) -> StreamToken:
    """A stream token for `principal`'s task `task_id` (its ownership is the caller's check)."""
    issued_at = int(time.time()) if now is None else now
    claims = principal.claims
    payload = {
        "iss": config.issuer,
        "aud": STREAM_AUDIENCE,
        "sub": principal.public_id,
        "iat": issued_at,
        "exp": issued_at + ttl_s,
        "jti": uuid.uuid4().hex,
        "role": claims.role,
        "sid": claims.session_id,
        "task": task_id,
    }
    token = sign_token(config, payload, typ=STREAM_TOKEN_TYPE)
    return StreamToken(token=token, expires_in=ttl_s)


def verify_stream_token(token: str, *, config: TokenConfig, task_id: str) -> AccessClaims:
    """The claims of a live stream token for `task_id`; Unauthenticated for anything else (an
    access token, another task's token, an expired or forged one)."""
    try:
        header = jwt.get_unverified_header(token)
        key = config.keys.get(str(header.get("kid")))
        if header.get("typ") != STREAM_TOKEN_TYPE or key is None:
            raise Unauthenticated(_INVALID)
        payload = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=STREAM_AUDIENCE,
            issuer=config.issuer,
            options={"require": _REQUIRED},
        )
    except jwt.InvalidTokenError:
        raise Unauthenticated(_INVALID) from None
    texts = {name: payload.get(name) for name in ("sub", "role", "jti", "sid", "task")}
    if not all(isinstance(value, str) and value for value in texts.values()):
        raise Unauthenticated(_INVALID)
    if texts["task"] != task_id:
        raise Unauthenticated(_INVALID)
    return AccessClaims(
        subject=str(texts["sub"]),
        role=str(texts["role"]),
        jti=str(texts["jti"]),
        session_id=str(texts["sid"]),
        issued_at=int(payload["iat"]),
        expires_at=int(payload["exp"]),
    )


def authenticate_stream(
    *,
    database: Database,
    config: TokenConfig,
    token: str,
    task_id: str,
    clock: Clock = utc_now,
) -> Principal:
    """The caller behind a stream token for `task_id`, looked up as an access token's is."""
    claims = verify_stream_token(token, config=config, task_id=task_id)
    return authenticate_claims(database=database, claims=claims, clock=clock)
