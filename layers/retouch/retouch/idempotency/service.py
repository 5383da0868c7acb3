"""Idempotency-Keys of the credit-spending POSTs (DESIGN §3), in the manner of Powertools'
idempotency utility: the rules live here, the storage behind `IdempotencyRepository`.

A request with a key claims it first, committed at once, so a concurrent twin sees the
claim. The transaction that makes the request's work true also stores its response with the
key (`complete`): a key is `done` exactly when its work exists. A request that fails
releases its claim; one that crashes frees the key when its lease runs out.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

from retouch.core.logging import logger
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transaction, Transactions
from retouch.idempotency.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
)
from retouch.idempotency.records import IdempotencyKey, KeyClaim, StoredResponse
from retouch.idempotency.repository import IdempotencyRepository

R = TypeVar("R")

_KEY_FORMAT = re.compile(r"[\x21-\x7e]{1,255}")  # printable ASCII, no spaces
_CLAIM_ATTEMPTS = 3


def run_once(
    *,
    database: Transactions,
    settings: Settings,
    key: IdempotencyKey | None,
    body: Mapping[str, Any],
    run: Callable[[KeyClaim | None], R],
    replay: Callable[[str], R],
    clock: Clock = utc_now,
) -> R:
    """`run(claim)` once per key; `run` stores its response with `complete(uow, claim, ...)`
    in the transaction that does its work. The same key and `body` again answer
    `replay(stored JSON body)` without running; the key while its first request runs is
    IdempotencyKeyInUse (409); the key with another body is IdempotencyKeyReused (422); a
    malformed key is IdempotencyKeyInvalid (422). Without a key, `run(None)`."""
    if key is None:
        return run(None)
    claimed = _claim(
        database, settings=settings, key=key, request_hash=request_hash(body), now=clock()
    )
    if isinstance(claimed, StoredResponse):
        logger.info("idempotent replay", extra={"operation": key.operation})
        return replay(claimed.body)
    try:
        return run(claimed)
    except BaseException:
        _release(database, claimed)
        raise


def complete(uow: Transaction, claim: KeyClaim | None, *, status: int, body: str) -> None:
    """Store the response (`status`, JSON `body`) with the claimed key, in the caller's
    transaction `uow`; nothing without a claim. IdempotencyKeyInUse when the claim was lost
    (our lease ran out and another request took the key over: that one does the work, so
    the caller's transaction must roll back)."""
    if claim is None:
        return
    if not uow.repository(IdempotencyRepository).complete(claim, status=status, body=body):
        raise IdempotencyKeyInUse(operation=claim.key.operation)


def purge_expired_keys(*, database: Transactions, limit: int, clock: Clock = utc_now) -> int:
    """Delete up to `limit` keys past their time to live; return how many (the reaper)."""
    with database.unit_of_work() as uow:
        purged = uow.repository(IdempotencyRepository).purge_expired(now=clock(), limit=limit)
        uow.commit()
    return purged


def request_hash(body: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of a request's body (key order and spacing ignored)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _claim(
    database: Transactions,
    *,
    settings: Settings,
    key: IdempotencyKey,
    request_hash: str,
    now: datetime,
) -> KeyClaim | StoredResponse:
    """Claim `key` for this request (committed at once), or the stored response of the
    request that completed it with the same body."""
    if not _KEY_FORMAT.fullmatch(key.value):
        raise IdempotencyKeyInvalid
    claim = KeyClaim(
        key=key,
        request_hash=request_hash,
        token=secrets.token_hex(16),
        now=now,
        lease_until=now + timedelta(seconds=settings.idempotency_lease_s),
        expires_at=now + timedelta(seconds=settings.idempotency_ttl_s),
    )
    for _ in range(_CLAIM_ATTEMPTS):
        # Each statement commits on its own, so concurrent twins only ever wait on one row
        # (the insert in autocommit: no BEGIN and COMMIT round trips around it).
        with database.autocommit() as uow:
            claimed = uow.repository(IdempotencyRepository).insert(claim)
        stored = None
        if not claimed:
            with database.unit_of_work() as uow:
                keys = uow.repository(IdempotencyRepository)
                claimed = keys.take_over(claim)
                stored = None if claimed else keys.find(key)
                uow.commit()
        if claimed:
            return claim
        if stored is None:
            continue  # released between our two statements: try again
        if stored.request_hash != request_hash:
            raise IdempotencyKeyReused(operation=key.operation)
        if stored.response is not None:
            return stored.response
        raise IdempotencyKeyInUse(operation=key.operation)
    raise IdempotencyKeyInUse(operation=key.operation)


def _release(database: Transactions, claim: KeyClaim) -> None:
    """Forget our in-flight claim: the request failed, so a corrected retry may use the key.
    Best effort: if this fails, the lease frees the key anyway."""
    try:
        with database.unit_of_work() as uow:
            uow.repository(IdempotencyRepository).release(claim)
            uow.commit()
    except Exception:  # noqa: BLE001 - the lease frees the key anyway
        logger.exception(
            "idempotency key not released; its lease will free it",
            extra={"operation": claim.key.operation},
        )
