"""Where Idempotency-Keys are kept: the port the service uses, and its SQL adapter over the
`idempotency_keys` table (one row per user, operation and key; migrations 0007 and 0011).
Parameterised statements only; nothing here commits."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from retouch.core.db import UnitOfWork
from retouch.core.time import to_db
from retouch.core.units import sql_adapter
from retouch.idempotency.records import (
    IdempotencyKey,
    KeyClaim,
    StoredKey,
    StoredResponse,
)


class IdempotencyRepository(Protocol):
    """The storage of keys. Every change is one conditional statement, so two requests
    racing for one key cannot both win."""

    def insert(self, claim: KeyClaim) -> bool:
        """Store a new `in_flight` key; False when the key exists (in any state)."""
        ...

    def take_over(self, claim: KeyClaim) -> bool:
        """Claim an existing key that expired, or whose request died (lease over) with the
        same body; False otherwise."""
        ...

    def find(self, key: IdempotencyKey) -> StoredKey | None: ...

    def complete(self, claim: KeyClaim, *, status: int, body: str) -> bool:
        """Our in-flight claim → `done` with the response; False when the claim was lost."""
        ...

    def release(self, claim: KeyClaim) -> None:
        """Forget our in-flight claim (its request failed and changed nothing)."""
        ...

    def purge_expired(self, *, now: datetime, limit: int) -> int:
        """Delete up to `limit` keys expired at `now`; return how many."""
        ...


@sql_adapter(IdempotencyRepository)
class MySQLIdempotencyRepository:
    """`idempotency_keys` in MySQL/MariaDB."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def insert(self, claim: KeyClaim) -> bool:
        # Commit it on its own: a transaction holding the duplicate's shared lock into a
        # later update deadlocks with its twins.
        key = claim.key
        return (
            self._uow.execute(
                "INSERT IGNORE INTO idempotency_keys (user_id, operation, idempotency_key, "
                "request_hash, claim, lease_until, created_at, expires_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    key.user_id,
                    key.operation,
                    key.value,
                    claim.request_hash,
                    claim.token,
                    to_db(claim.lease_until),
                    to_db(claim.now),
                    to_db(claim.expires_at),
                ),
            )
            == 1
        )

    def take_over(self, claim: KeyClaim) -> bool:
        key, now = claim.key, to_db(claim.now)
        return (
            self._uow.execute(
                "UPDATE idempotency_keys SET request_hash = %s, state = 'in_flight', "
                "claim = %s, lease_until = %s, task_id = NULL, response_status = NULL, "
                "response_body = NULL, created_at = %s, expires_at = %s "
                "WHERE user_id = %s AND operation = %s AND idempotency_key = %s "
                "AND (expires_at <= %s OR "
                "(state = 'in_flight' AND lease_until <= %s AND request_hash = %s))",
                (
                    claim.request_hash,
                    claim.token,
                    to_db(claim.lease_until),
                    now,
                    to_db(claim.expires_at),
                    key.user_id,
                    key.operation,
                    key.value,
                    now,
                    now,
                    claim.request_hash,
                ),
            )
            == 1
        )

    def find(self, key: IdempotencyKey) -> StoredKey | None:
        row = self._uow.fetch_one(
            "SELECT request_hash, state, response_status, response_body FROM idempotency_keys "
            "WHERE user_id = %s AND operation = %s AND idempotency_key = %s",
            (key.user_id, key.operation, key.value),
        )
        if row is None:
            return None
        response = None
        if row["state"] == "done":
            response = StoredResponse(
                status=int(row["response_status"]), body=str(row["response_body"])
            )
        return StoredKey(request_hash=row["request_hash"], response=response)

    def complete(self, claim: KeyClaim, *, status: int, body: str) -> bool:
        key = claim.key
        return (
            self._uow.execute(
                "UPDATE idempotency_keys SET state = 'done', response_status = %s, "
                "response_body = %s WHERE user_id = %s AND operation = %s "
                "AND idempotency_key = %s AND claim = %s AND state = 'in_flight'",
                (status, body, key.user_id, key.operation, key.value, claim.token),
            )
            == 1
        )

    def release(self, claim: KeyClaim) -> None:
        key = claim.key
        self._uow.execute(
            "DELETE FROM idempotency_keys WHERE user_id = %s AND operation = %s "
            "AND idempotency_key = %s AND claim = %s AND state = 'in_flight'",
            (key.user_id, key.operation, key.value, claim.token),
        )

    def purge_expired(self, *, now: datetime, limit: int) -> int:
        # ix_idempotency_keys_expires: the oldest first, a batch per reaper run.
        return self._uow.execute(
            "DELETE FROM idempotency_keys WHERE expires_at <= %s LIMIT %s", (to_db(now), limit)
        )
