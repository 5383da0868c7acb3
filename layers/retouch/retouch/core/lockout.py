"""Account lockouts with exponential backoff, and the clients an account has signed in from.

A limit (`core.ratelimit`) refuses while its allowance is spent and forgets quickly; a
lockout is what a *tripped* limit leaves behind: `trip(key)` locks the key for
`base_s · 2^(trips − 1)` seconds, capped at `max_s`, where `trips` counts the trips of the last
`TRIPS_MEMORY_S` (a day without one starts again at `base_s`). The sign-in guard
(`retouch.auth.attempts`) trips an account's lockout when its failed logins from every
address together spend their limit.

`remember(key, client)` marks a client (an address) as one the key succeeded from, for
`ttl_s`; `is_known` asks. The sign-in guard lets a known address through a lockout, so an
attacker who locks an account from elsewhere does not lock its owner out at home.

Redis holds the state: `lo:trips:<digest>` (a counter), `lo:until:<digest>` (the lockout's end,
µs of Redis's clock, expiring with it) and `lo:known:<digest>`; keys are BLAKE2b digests, so
no email or address is stored. The lockout reads fail closed like the login limits
(`RateLimiterUnavailable`, 503); `remember` fails open (a lost mark only costs the exemption).
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from functools import cache

import redis

from retouch.core.logging import logger
from retouch.core.ratelimit import Clock, RateLimiterUnavailable
from retouch.core.redis import RedisClient, get_redis

TRIPS_MEMORY_S = 86_400
_MICROSECONDS = 1_000_000

# KEYS: trips, until. ARGV: base (µs), max (µs), memory (s), and optionally now (µs; tests).
_TRIP_SCRIPT = """
if redis.replicate_commands then redis.replicate_commands() end -- Redis < 5: TIME, then SET
local now = tonumber(ARGV[4])
if not now then
  local clock = redis.call("TIME")
  now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
end
local trips = redis.call("INCR", KEYS[1])
redis.call("EXPIRE", KEYS[1], tonumber(ARGV[3]))
local lock = math.min(tonumber(ARGV[1]) * 2 ^ (trips - 1), tonumber(ARGV[2]))
redis.call("SET", KEYS[2], string.format("%.0f", now + lock), "PX", math.ceil(lock / 1000))
return string.format("%.0f", lock)
"""
# KEYS: until. ARGV: optionally now (µs). Replies the lockout's remaining µs (0: none).
_REMAINING_SCRIPT = """
local until_at = tonumber(redis.call("GET", KEYS[1]))
if not until_at then return "0" end
local now = tonumber(ARGV[1])
if not now then
  local clock = redis.call("TIME")
  now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
end
return string.format("%.0f", math.max(0, until_at - now))
"""


def _digest(*parts: str) -> str:
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=16).hexdigest()


def _ceil_seconds(microseconds: int) -> int:
    return -(-microseconds // _MICROSECONDS)


class Lockouts(ABC):
    """Lockouts with backoff per key, and the clients each key succeeded from."""

    @abstractmethod
    def locked_for(self, key: str) -> int:
        """Whole seconds (rounded up) until `key`'s lockout ends; 0 when it has none."""

    @abstractmethod
    def trip(self, key: str, *, base_s: int, max_s: int) -> int:
        """Lock `key` for `base_s · 2^(trips − 1)` seconds, at most `max_s`; the seconds."""

    @abstractmethod
    def is_known(self, key: str, client: str) -> bool:
        """Whether `key` succeeded from `client` within the `ttl_s` of its `remember`."""

    @abstractmethod
    def remember(self, key: str, client: str, *, ttl_s: int) -> None:
        """Mark `client` as one `key` succeeded from, for `ttl_s` seconds."""


class RedisLockouts(Lockouts):
    """The production store: two small scripts and a plain key on the process's Redis."""

    def __init__(self, client: RedisClient, *, clock: Clock | None = None) -> None:
        self._client = client
        self._trip = client.register_script(_TRIP_SCRIPT)
        self._remaining = client.register_script(_REMAINING_SCRIPT)
        self._clock = clock

    def _now(self) -> list[int]:
        return [] if self._clock is None else [self._clock()]

    def locked_for(self, key: str) -> int:
        try:
            remaining = int(self._remaining(keys=[f"lo:until:{_digest(key)}"], args=self._now()))
        except redis.RedisError as exc:
            raise RateLimiterUnavailable("lockouts unreachable") from exc
        return _ceil_seconds(remaining)

    def trip(self, key: str, *, base_s: int, max_s: int) -> int:
        digest = _digest(key)
        args = [base_s * _MICROSECONDS, max_s * _MICROSECONDS, TRIPS_MEMORY_S, *self._now()]
        try:
            lock = int(self._trip(keys=[f"lo:trips:{digest}", f"lo:until:{digest}"], args=args))
        except redis.RedisError as exc:
            raise RateLimiterUnavailable("lockouts unreachable") from exc
        return _ceil_seconds(lock)

    def is_known(self, key: str, client: str) -> bool:
        try:
            return bool(self._client.exists(f"lo:known:{_digest(key, client)}"))
        except redis.RedisError as exc:
            raise RateLimiterUnavailable("lockouts unreachable") from exc

    def remember(self, key: str, client: str, *, ttl_s: int) -> None:
        try:
            self._client.set(f"lo:known:{_digest(key, client)}", 1, ex=ttl_s)
        except redis.RedisError as exc:
            logger.warning("lockouts unavailable; client not remembered", extra={"error": str(exc)})


@cache
def get_lockouts() -> Lockouts:
    """The process's lockouts on `get_redis()`, created on first use (no round trip)."""
    return RedisLockouts(get_redis())
