"""The Redis level: versioned values with their expiry and recompute time, and rebuild locks.

A stored value is one string, `"<expires_at> <delta_s> <json>"`: the logical expiry (epoch
seconds) and the measured recompute time for XFetch ride with the value, so one read brings
everything a decision needs. An empty JSON part marks a key known to be absent. Redis keeps
the string for twice its logical lifetime, so an expired copy can still be served while one
caller rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from redis.lock import Lock

from retouch.cache.keys import CacheKey, lock_key, value_key, version_key
from retouch.core.redis import RedisClient


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """A Redis-level value: JSON text (None: absent), logical expiry, recompute time."""

    payload: str | None
    expires_at: float
    delta_s: float

    def encode(self) -> str:
        return f"{self.expires_at:.3f} {self.delta_s:.6f} {self.payload or ''}"

    @classmethod
    def parse(cls, raw: str) -> StoredEntry:
        expires_at, delta_s, payload = raw.split(" ", 2)
        return cls(payload or None, float(expires_at), float(delta_s))


class RedisLevel:
    """Reads, writes, version bumps and locks on one Redis client."""

    def __init__(self, client: RedisClient, *, lock_timeout_s: float, lock_wait_s: float) -> None:
        self._client = client
        self._lock_timeout_s = lock_timeout_s
        self._lock_wait_s = lock_wait_s

    def read(self, key: CacheKey, version_hint: int) -> tuple[int, StoredEntry | None]:
        """The namespace's version and the value of that version: one MGET when the hint is
        right (the usual case), a second GET only just after an invalidation."""
        version_raw, raw = self._client.mget(
            version_key(key.namespace), value_key(key, version_hint)
        )
        version = int(version_raw or 0)
        if version != version_hint:
            raw = self._client.get(value_key(key, version))
        # The client decodes responses (decode_responses=True): str, or None when absent.
        return version, StoredEntry.parse(str(raw)) if raw else None

    def write(self, key: CacheKey, version: int, entry: StoredEntry, keep_s: float) -> None:
        self._client.set(value_key(key, version), entry.encode(), px=max(1, round(keep_s * 1000)))

    def bump(self, namespace: str) -> int:
        """Move the namespace to a new version: every value of the old one is dead at once."""
        return int(self._client.incr(version_key(namespace)))

    def lock(self, key: CacheKey, version: int) -> Lock:
        """redis-py's lock (SET NX PX + token, released by a script) on the value's rebuild."""
        lock: Lock = self._client.lock(
            lock_key(key, version),
            timeout=self._lock_timeout_s,
            sleep=0.01,
            blocking_timeout=self._lock_wait_s,
        )
        return lock
