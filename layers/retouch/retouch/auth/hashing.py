"""A cap on password hashing per instance, so a sign-up flood cannot starve other routes.

Argon2 takes 64 MiB and tens of milliseconds of a core per hash. An instance runs at most
`RETOUCH_PASSWORD_HASH_CONCURRENCY` hashes or verifications at once (register, login, reset,
change); a request that finds every slot taken waits `RETOUCH_PASSWORD_HASH_WAIT_MS` (by
default not at all: a waiting request holds a worker too), then is answered 503 `AUTH_BUSY`
with `Retry-After: 1` before it hashes anything. On Lambda, where an
instance serves one request at a time, the cap never bites; where one process serves many
requests (the local gateway, an SCF instance with concurrency), it keeps the health check and
every other route running while the flood waits or is turned away.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from retouch.core.errors import AppError
from retouch.core.logging import logger
from retouch.core.settings import Settings

RETRY_AFTER_S = 1


class AuthBusy(AppError):
    """Every hashing slot of this instance stayed taken; retry in a second."""

    code = "AUTH_BUSY"

    def __init__(self) -> None:
        super().__init__(
            "Passwords are being checked for many requests; retry in {retry_after} s",
            headers={"Retry-After": str(RETRY_AFTER_S)},
            retry_after=RETRY_AFTER_S,
        )


@cache
def _slots(concurrency: int) -> threading.BoundedSemaphore:
    return threading.BoundedSemaphore(concurrency)


@contextmanager
def hashing_slot(settings: Settings) -> Iterator[None]:
    """Hold one of the instance's hashing slots for the block; AuthBusy when none frees up
    within the configured wait."""
    slots = _slots(settings.password_hash_concurrency)
    if not slots.acquire(timeout=settings.password_hash_wait_ms / 1000):
        logger.warning(
            "password hashing busy: request refused", extra={"security_event": "auth_busy"}
        )
        raise AuthBusy
    try:
        yield
    finally:
        slots.release()
