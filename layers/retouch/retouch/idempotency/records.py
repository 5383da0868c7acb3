"""The idempotency records: a client's key in its scope, a request's claim on it, and the
key as stored. Plain dataclasses (no pydantic), so the reaper's purge stays a cheap import."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class IdempotencyKey:
    """An `Idempotency-Key` header's `value`, scoped to the user who sent it and the
    operation it was sent to (`tasks_create`, `admin_users_grant_credits`, ...): the same
    value in another scope is another key."""

    user_id: int
    operation: str
    value: str

    @classmethod
    def sent(cls, *, user_id: int, operation: str, header: str | None) -> IdempotencyKey | None:
        """The key a request sent in its `Idempotency-Key` header, if it sent one."""
        return None if header is None else cls(user_id, operation, header)


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """A request's claim on a key: `token` names the claiming request, `lease_until` frees
    the key if that request dies, `expires_at` ends the key's life (24 h by default)."""

    key: IdempotencyKey
    request_hash: str
    token: str
    now: datetime
    lease_until: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class StoredResponse:
    """The response a key's request answered: its HTTP status and JSON body."""

    status: int
    body: str


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A key as stored: the body it was first sent with (`request_hash`) and, once its
    request completed (`done`), the response; None while it is `in_flight`."""

    request_hash: str
    response: StoredResponse | None
