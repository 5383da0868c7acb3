"""The caller's record as Redis keeps it (`retouch.core.caller_cache`): what a request may take
from the cache instead of the MySQL statement, and the record a miss writes back.

The cached record holds what a `Principal` carries but the password hash, which stays in MySQL:
a route that checks the password (a password change, an account deletion) reads its caller
from MySQL (`caller.dependencies.current_user_from_mysql`). A record is taken only for the
`sub` and `sid` of the verified token, with the session's own state, and only while its
membership is still in force; anything else reads MySQL.
"""

from __future__ import annotations

import json
from datetime import datetime

from retouch.caller.schemas import CallerRecord
from retouch.core.caller_cache import REVOKED, Prefetched, get_caller_cache
from retouch.core.identity import CurrentMembership, User
from retouch.core.security import AccessClaims

NO_PASSWORD_HASH = ""  # a cached record's; verifies nothing


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parsed(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def encode(record: CallerRecord) -> str | None:
    """The cached form of `record` (None: nothing to cache, as the caller is refused: no
    account, one not active, or a revoked session; those read MySQL every time, as before)."""
    user, membership = record.user, record.membership
    if user is None or user.status != "active" or record.session_revoked:
        return None
    return json.dumps(
        [
            user.id,
            user.public_id,
            user.email,
            user.role,
            user.status,
            user.created_at.isoformat(),
            user.updated_at.isoformat(),
            _time(user.email_verified_at),
            None if membership is None else membership.plan_code,
            None if membership is None else _time(membership.expires_at),
        ],
        separators=(",", ":"),
    )


def decode(text: str) -> tuple[User, CurrentMembership | None]:
    """The account and membership of a cached record; ValueError for anything malformed."""
    try:
        fields = json.loads(text)
        uid, public_id, email, role, status, created, updated, verified, plan, ends = fields
        user = User(
            id=int(uid),
            public_id=str(public_id),
            email=str(email),
            password_hash=NO_PASSWORD_HASH,
            role=role,
            status=status,
            created_at=datetime.fromisoformat(created),
            updated_at=datetime.fromisoformat(updated),
            email_verified_at=_parsed(verified),
        )
    except (TypeError, ValueError) as exc:
        raise ValueError("malformed cached caller") from exc
    membership = None if plan is None else CurrentMembership(str(plan), _parsed(ends))
    return user, membership


def _matches(found: Prefetched | None, claims: AccessClaims) -> Prefetched | None:
    if found is None:
        return None
    if found.subject != claims.subject or found.session_id != claims.session_id:
        return None
    return found


def from_cache(
    found: Prefetched | None, claims: AccessClaims, now: datetime
) -> CallerRecord | None:
    """The caller of verified `claims` from what the request prefetched; None: read MySQL."""
    found = _matches(found, claims)
    if found is None or found.record is None or found.session is None:
        return None
    try:
        user, membership = decode(found.record)
    except ValueError:
        return None
    if user.public_id != claims.subject:
        return None
    ends = None if membership is None else membership.expires_at
    if ends is not None and ends <= now:
        return None  # expired since it was cached: the statement finds the next one
    return CallerRecord(user=user, session_revoked=found.session == REVOKED, membership=membership)


def refill(found: Prefetched | None, claims: AccessClaims, record: CallerRecord) -> None:
    """Write `record`, read from MySQL after a miss, unless an invalidation ran since the
    prefetch read the generation (then the next request reads MySQL again)."""
    found = _matches(found, claims)
    text = encode(record)
    if found is not None and text is not None:
        get_caller_cache().refill(found, record=text, revoked=record.session_revoked)


def forget_caller(public_id: str) -> None:
    """Invalidate `public_id`'s cached record: every write that changes who the caller is
    (account, role, status, sessions, membership) calls it once its transaction has committed."""
    get_caller_cache().forget(public_id)
