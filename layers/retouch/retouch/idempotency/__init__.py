"""Idempotency-Keys of the credit-spending POSTs (DESIGN §3): the same key and body answer
the first response again and do nothing twice; the key while its first request runs is a
409 `IDEMPOTENCY_KEY_IN_USE`; the key with another body is a 422 `IDEMPOTENCY_KEY_REUSED`.
Keys are scoped per user and per operation, and kept `RETOUCH_IDEMPOTENCY_TTL_S` (24 h).

    key = IdempotencyKey.sent(user_id=user.id, operation="tasks_create", header=header)
    return run_once(database=..., settings=..., key=key, body=request.model_dump(mode="json"),
                    run=lambda claim: _create(..., claim=claim),
                    replay=TaskRead.model_validate_json)

where `_create` calls `complete(uow, claim, status=202, body=task.model_dump_json())` in the
transaction that creates the task. The reaper calls `purge_expired_keys`.
"""

from retouch.idempotency.errors import (
    IdempotencyKeyInUse,
    IdempotencyKeyInvalid,
    IdempotencyKeyReused,
)
from retouch.idempotency.records import IdempotencyKey, KeyClaim, StoredKey, StoredResponse
from retouch.idempotency.repository import IdempotencyRepository
from retouch.idempotency.service import complete, purge_expired_keys, request_hash, run_once

__all__ = [
    "IdempotencyKey",
    "IdempotencyKeyInUse",
    "IdempotencyKeyInvalid",
    "IdempotencyKeyReused",
    "IdempotencyRepository",
    "KeyClaim",
    "StoredKey",
    "StoredResponse",
    "complete",
    "purge_expired_keys",
    "request_hash",
    "run_once",
]
