"""`get_secret`: one cache in front of every secret store, with the time each value was read."""

from __future__ import annotations

import threading
import time
from typing import NamedTuple

from retouch.core.errors import ServiceUnavailable
from retouch.core.logging import logger
from retouch.core.settings import get_settings


class SecretUnavailable(ServiceUnavailable):
    """A secret the service needs could not be read (missing, refused, store unreachable);
    the message names the reference and the store's error code, never a value."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__("A secret the service needs cannot be read right now")
        self.reference = reference
        self.reason = reason

    def __str__(self) -> str:
        return f"secret {self.reference} unavailable: {self.reason}"


class _Entry(NamedTuple):  # a NamedTuple: a dataclass costs ~0.4 ms of every cold start
    value: str
    read_at: float


_entries: dict[str, _Entry] = {}
#: Failed reads, kept for a moment: under load a missing secret or a store that is down
#: answers every request at once from here rather than with one store call per request.
_failures: dict[str, tuple[str, float]] = {}
_FAILED_READ_HOLD_S = 1.0
_lock = threading.Lock()


def get_secret(reference: str) -> str:
    """The value `reference` names, read at most once per RETOUCH_SECRETS_CACHE_S."""
    if reference.startswith("env:"):
        return _read(reference)  # a variable costs nothing to read, and tests change it
    entry = _entries.get(reference)
    if entry is not None and time.monotonic() - entry.read_at < get_settings().secrets_cache_s:
        return entry.value
    return _read_and_keep(reference)


def refresh_secret(reference: str) -> str:
    """The value read again (a rotated secret), unless it was read within
    RETOUCH_SECRETS_REFRESH_MIN_S: a flood of refused logins or forged key ids costs the
    store at most one read per that interval."""
    entry = _entries.get(reference)
    if entry is not None and (
        time.monotonic() - entry.read_at < get_settings().secrets_refresh_min_s
    ):
        return entry.value
    return _read_and_keep(reference)


def forget_secrets() -> None:
    """Drop every cached value and store client (tests, settings reloads)."""
    from retouch.core.secrets.stores import forget_clients

    with _lock:
        _entries.clear()
        _failures.clear()
    forget_clients()


def _read_and_keep(reference: str) -> str:
    failed = _failures.get(reference)
    if failed is not None and time.monotonic() - failed[1] < _FAILED_READ_HOLD_S:
        raise SecretUnavailable(reference, failed[0])
    try:
        value = _read(reference)
    except SecretUnavailable as exc:
        with _lock:
            _failures[reference] = (exc.reason, time.monotonic())
        raise
    with _lock:
        _entries[reference] = _Entry(value, time.monotonic())
        _failures.pop(reference, None)
    return value


def _read(reference: str) -> str:
    # The stores' SDKs load only when a secret is first read: a function that needs none
    # (health without a database) never imports boto3 or the Tencent SDK for this.
    from retouch.core.secrets.stores import read

    try:
        return read(reference)
    except SecretUnavailable as exc:
        logger.error("secret unavailable", extra={"reference": reference, "reason": exc.reason})
        raise
