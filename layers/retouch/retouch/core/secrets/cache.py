"""`get_secret`: one cache in front of every secret store, with the time each value was read."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

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


@dataclass(frozen=True, slots=True)
class _Entry:
    value: str
    read_at: float


_entries: dict[str, _Entry] = {}
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
    forget_clients()


def _read_and_keep(reference: str) -> str:
    value = _read(reference)
    with _lock:
        _entries[reference] = _Entry(value, time.monotonic())
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
