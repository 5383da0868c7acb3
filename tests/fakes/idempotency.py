"""`IdempotencyRepository` in memory, keeping the SQL adapter's rules: one row per (user,
operation, key); a key is taken over only once expired, or when its lease is over and the
body is the same; only the current claim completes or releases it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from retouch.idempotency import IdempotencyKey, KeyClaim, StoredKey, StoredResponse


@dataclass
class KeyRow:
    request_hash: str
    token: str
    lease_until: datetime
    expires_at: datetime
    response: StoredResponse | None = None  # None: in flight


def _row_of(claim: KeyClaim) -> KeyRow:
    return KeyRow(
        request_hash=claim.request_hash,
        token=claim.token,
        lease_until=claim.lease_until,
        expires_at=claim.expires_at,
    )


class FakeIdempotencyRepository:
    def __init__(self) -> None:
        self.rows: dict[IdempotencyKey, KeyRow] = {}

    def insert(self, claim: KeyClaim) -> bool:
        if claim.key in self.rows:
            return False
        self.rows[claim.key] = _row_of(claim)
        return True

    def take_over(self, claim: KeyClaim) -> bool:
        row = self.rows.get(claim.key)
        if row is None:
            return False
        expired = row.expires_at <= claim.now
        dead = (
            row.response is None
            and row.lease_until <= claim.now
            and row.request_hash == claim.request_hash
        )
        if not (expired or dead):
            return False
        self.rows[claim.key] = _row_of(claim)
        return True

    def find(self, key: IdempotencyKey) -> StoredKey | None:
        row = self.rows.get(key)
        if row is None:
            return None
        return StoredKey(request_hash=row.request_hash, response=row.response)

    def complete(self, claim: KeyClaim, *, status: int, body: str) -> bool:
        row = self._claimed(claim)
        if row is None:
            return False
        row.response = StoredResponse(status=status, body=body)
        return True

    def release(self, claim: KeyClaim) -> None:
        if self._claimed(claim) is not None:
            del self.rows[claim.key]

    def purge_expired(self, *, now: datetime, limit: int) -> int:
        expired = sorted(
            (key for key, row in self.rows.items() if row.expires_at <= now),
            key=lambda key: self.rows[key].expires_at,
        )[:limit]
        for key in expired:
            del self.rows[key]
        return len(expired)

    def _claimed(self, claim: KeyClaim) -> KeyRow | None:
        """The row while `claim` holds it in flight."""
        row = self.rows.get(claim.key)
        if row is None or row.token != claim.token or row.response is not None:
            return None
        return row
