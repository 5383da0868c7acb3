"""Callers for unit tests: the `Principal` an authenticated request would carry."""

from __future__ import annotations

from datetime import datetime, timezone

from retouch.core.identity import CurrentMembership, Principal, User
from retouch.core.permissions import Role
from retouch.core.security import AccessClaims

_CREATED = datetime(2030, 1, 1, tzinfo=timezone.utc)


def principal(user_id: int, *, plan: str = "free", role: Role = "user") -> Principal:
    """An active user `user_id` holding `plan`, as the caller lookup would give it."""
    public_id = f"usr_{'A' * 21}{user_id}"
    user = User(
        id=user_id,
        public_id=public_id,
        email=f"user{user_id}@example.com",
        password_hash="-",
        role=role,
        status="active",
        created_at=_CREATED,
        updated_at=_CREATED,
        email_verified_at=_CREATED,
    )
    claims = AccessClaims(
        subject=public_id, role=role, jti="j", session_id="s", issued_at=0, expires_at=1
    )
    return Principal(
        user=user, claims=claims, membership=CurrentMembership(plan_code=plan, expires_at=None)
    )
