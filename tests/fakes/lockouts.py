"""Lockouts in process memory: the Redis scripts' rules on a test clock."""

from __future__ import annotations

from collections.abc import Callable

from retouch.core.lockout import TRIPS_MEMORY_S, Lockouts

_MICROSECONDS = 1_000_000


class MemoryLockouts(Lockouts):
    """`retouch.core.lockout.RedisLockouts` without Redis: trips remembered a day, lockouts
    doubling up to the cap, known clients with their lifetime. `clock` gives µs."""

    def __init__(self, clock: Callable[[], int]) -> None:
        self._clock = clock
        self._trips: dict[str, tuple[int, int]] = {}  # key -> (trips, forgotten at)
        self._until: dict[str, int] = {}
        self._known: dict[tuple[str, str], int] = {}

    def locked_for(self, key: str) -> int:
        remaining = max(0, self._until.get(key, 0) - self._clock())
        return -(-remaining // _MICROSECONDS)

    def trip(self, key: str, *, base_s: int, max_s: int) -> int:
        now = self._clock()
        trips, forgotten_at = self._trips.get(key, (0, now))
        trips = (trips if forgotten_at > now else 0) + 1
        self._trips[key] = (trips, now + TRIPS_MEMORY_S * _MICROSECONDS)
        lock_s: int = min(base_s << (trips - 1), max_s)
        self._until[key] = now + lock_s * _MICROSECONDS
        return lock_s

    def is_known(self, key: str, client: str) -> bool:
        return self._known.get((key, client), 0) > self._clock()

    def remember(self, key: str, client: str, *, ttl_s: int) -> None:
        self._known[(key, client)] = self._clock() + ttl_s * _MICROSECONDS
