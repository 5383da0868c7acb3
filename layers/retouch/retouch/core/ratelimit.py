"""Rate limits: GCRA in one atomic Redis script, and the error a caller raises when denied.

    limiter = get_rate_limiter()
    decision = limiter.hit(configured_limits().login_per_account_ip, f"{email}|{ip}")
    if not decision.allowed:
        raise RateLimited.from_decision(decision)

GCRA (the generic cell rate algorithm, as in redis-cell) keeps one number per key, the
theoretical arrival time (TAT): each request moves it `period_s / rate` further into the
future, and a request is refused when that would put it more than one period ahead of now.
So a quiet client may send a burst of `rate` requests at once, then one every
`period_s / rate`; the allowance refills continuously, not at window edges. The script reads
Redis's own clock (`TIME`), so instances with skewed clocks agree, and sets the key to expire
when its TAT passes, so an idle key costs nothing. One `EVALSHA` per hit.

Keys are `rl:<limit name>:<digest of the caller's key>`: the caller's key may hold an email
or an address, which neither leaks into Redis nor breaks the key's shape.

When Redis fails, `hit` raises `RateLimiterUnavailable` (503) — fail closed, the default, for
limits that guard against abuse such as login — or, with `fail_open=True`, allows the request
with a decision whose `enforced` is False (no headers). After a failure the limiter skips
Redis for `RETOUCH_RATE_LIMIT_RETRY_AFTER_FAILURE_S`, so an outage costs requests one client
timeout per second per instance, not one each.
"""

from __future__ import annotations

import hashlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import redis

from retouch.core.breaker import SkipWindow
from retouch.core.caller_cache import HashRead
from retouch.core.errors import AppError, ServiceUnavailable
from retouch.core.logging import logger
from retouch.core.ratelimit_lua import GCRA_READ_SCRIPT, GCRA_READ_STEP_SCRIPT, GCRA_SCRIPT
from retouch.core.redis import RedisClient, get_redis
from retouch.core.settings import Settings, get_settings

KEY_PREFIX = "rl"
_MICROSECONDS = 1_000_000

#: A clock in whole microseconds; tests inject one to move time without sleeping.
Clock = Callable[[], int]

# The reply of one hit: allowed (0/1), remaining, retry after (µs), reset after (µs), and
# what a `HashRead` read in the same round trip (empty: nothing was read).
_Reply = tuple[int, int, int, int, tuple[str | None, ...]]


@dataclass(frozen=True, slots=True)
class Limit:
    """`rate` requests per `period_s` seconds under the name `name`, bursts of up to `rate`."""

    name: str
    rate: int
    period_s: int

    def __post_init__(self) -> None:
        if self.rate < 1 or self.period_s < 1 or not self.name or ":" in self.name:
            raise ValueError(f"invalid rate limit {self!r}")


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one hit. Times are whole seconds, rounded up.

    `reset_s` is when the full burst is available again; `retry_after_s` is when the refused
    request would be allowed (0 when allowed). `enforced` is False when the limiter could not
    reach its store and let the request through (`fail_open`); such a decision has no headers.
    """

    allowed: bool
    limit: int
    remaining: int
    reset_s: int
    retry_after_s: int
    enforced: bool = True
    read: tuple[str | None, ...] = ()  # the values a `HashRead` read with the step

    def headers(self) -> dict[str, str]:
        """`RateLimit-Limit/-Remaining/-Reset`, and `Retry-After` when refused."""
        if not self.enforced:
            return {}
        if not self.allowed:
            return refusal_headers(self.limit, self.retry_after_s)
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_s),
        }


def refusal_headers(limit: int, retry_after_s: int) -> dict[str, str]:
    """The headers of a 429: nothing is left, and `RateLimit-Reset` is `Retry-After` (the
    time until the next request is allowed), so a client reading either waits as long."""
    return {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": str(retry_after_s),
        "Retry-After": str(retry_after_s),
    }


class RateLimited(AppError):
    """A rate limit refused the request; `headers` carry `Retry-After` and `RateLimit-*`."""

    code = "RATE_LIMITED"

    @classmethod
    def from_decision(cls, decision: Decision, detail: str | None = None) -> RateLimited:
        return cls(
            detail or "Too many requests; retry in {retry_after} s",
            headers=decision.headers(),
            retry_after=decision.retry_after_s,
        )


class RateLimiterUnavailable(ServiceUnavailable):
    """The limiter's store (Redis) cannot be reached, and the caller asked to fail closed."""


def _ceil_seconds(microseconds: int) -> int:
    return -(-microseconds // _MICROSECONDS)


def storage_key(limit: Limit, key: str) -> str:
    """`rl:<limit>:<digest>`: the caller's key may be an email, so only its digest is stored."""
    digest = hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
    return f"{KEY_PREFIX}:{limit.name}:{digest}"


def step_of(limit: Limit, key: str) -> tuple[str, int, int]:
    """The storage key of `key` under `limit`, its interval and window (µs): whole
    microseconds per request, rounded up (integer arithmetic in Lua and here)."""
    interval = -(-limit.period_s * _MICROSECONDS // limit.rate)
    return storage_key(limit, key), interval, interval * limit.rate


def decision_of(limit: Limit, reply: Sequence[int], read: tuple[str | None, ...] = ()) -> Decision:
    """The decision of one GCRA step's reply: allowed, remaining, retry after, reset (µs)."""
    allowed, remaining, retry_after, reset = reply
    retry_after_s = 0 if allowed else max(1, _ceil_seconds(retry_after))
    return Decision(
        bool(allowed), limit.rate, remaining, _ceil_seconds(reset), retry_after_s, read=read
    )


class RateLimiter(ABC):
    """GCRA limiter; backends store the TAT and apply one step atomically (`_apply`)."""

    def hit(
        self,
        limit: Limit,
        key: str,
        *,
        cost: int = 1,
        fail_open: bool = False,
        read: HashRead | None = None,
    ) -> Decision:
        """Count `cost` requests of `key` against `limit` and say whether they may proceed.

        Refused requests are not counted. When the store is unreachable: raise
        `RateLimiterUnavailable`, or with `fail_open` allow with an unenforced decision.
        `read`, in the same round trip, comes back in `Decision.read` (a store that cannot
        read it answers nothing).
        """
        if not 1 <= cost <= limit.rate:
            raise ValueError(f"cost {cost} outside 1..{limit.rate} for limit {limit.name}")
        key_of, interval, window = step_of(limit, key)
        try:
            *reply, values = self._apply(key_of, interval, window, cost, read)
        except RateLimiterUnavailable:
            if not fail_open:
                raise
            return Decision(True, limit.rate, limit.rate, 0, 0, enforced=False)
        return decision_of(limit, reply, values)

    @abstractmethod
    def _apply(
        self, key: str, interval: int, window: int, cost: int, read: HashRead | None
    ) -> _Reply:
        """One GCRA step on `key`, atomically; raise RateLimiterUnavailable if unreachable."""


class RedisRateLimiter(RateLimiter):
    """The production limiter: the GCRA script on the process's Redis client."""

    def __init__(
        self,
        client: RedisClient,
        *,
        retry_after_failure_s: float = 1.0,
        clock: Clock | None = None,
    ) -> None:
        self._script = client.register_script(GCRA_SCRIPT)  # hashes locally, no round trip
        self._read_script = client.register_script(GCRA_READ_SCRIPT)
        self._read_step_script = client.register_script(GCRA_READ_STEP_SCRIPT)
        self._clock = clock
        self._skip = SkipWindow(retry_after_failure_s)

    def _apply(
        self, key: str, interval: int, window: int, cost: int, read: HashRead | None
    ) -> _Reply:
        if self._skip.is_open():
            raise RateLimiterUnavailable("rate limiter skipped: Redis failed moments ago")
        now = "" if self._clock is None else self._clock()
        try:
            if read is None:
                reply = self._script(keys=[key], args=[interval, window, cost, now])
            elif read.step is None:
                keys = [key, read.hash_key, read.key]
                reply = self._read_script(
                    keys=keys, args=[interval, window, cost, now, *read.fields]
                )
            else:
                step_key, step_interval, step_window = read.step
                keys = [key, read.hash_key, read.key, step_key]
                args: list[str | int] = [*read.fields, step_interval, step_window]
                reply = self._read_step_script(keys=keys, args=[interval, window, cost, now, *args])
        except redis.RedisError as exc:
            self._skip.trip()
            logger.warning(
                "rate limiter unavailable; skipping it",
                extra={"error": type(exc).__name__, "skip_s": self._skip.seconds},
            )
            raise RateLimiterUnavailable("rate limiter unreachable") from exc
        allowed, remaining, retry_after, reset = (int(value) for value in reply[:4])
        return allowed, remaining, retry_after, reset, tuple(reply[4:])


class MemoryRateLimiter(RateLimiter):
    """The same GCRA in process memory: a working fake for tests, never unavailable."""

    def __init__(self, *, clock: Clock | None = None) -> None:
        self._clock = clock or (lambda: time.monotonic_ns() // 1000)
        self._tats: dict[str, int] = {}
        self._lock = threading.Lock()

    def _apply(
        self, key: str, interval: int, window: int, cost: int, read: HashRead | None
    ) -> _Reply:
        with self._lock:
            now = self._clock()
            tat = max(self._tats.get(key, now), now)
            new_tat = tat + cost * interval
            allow_at = new_tat - window
            if now < allow_at:
                return 0, (now - tat + window) // interval, allow_at - now, tat - now, ()
            self._tats[key] = new_tat
            return 1, (now - allow_at) // interval, 0, new_tat - now, ()


@dataclass(frozen=True, slots=True)
class Limits:
    """Every configured limit (`RETOUCH_RATE_LIMIT_*`), each per minute."""

    per_ip: Limit
    tasks_per_user: Limit
    login_per_account_ip: Limit
    login_per_ip: Limit
    login_failures_per_account: Limit

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            per_ip=Limit("ip", settings.rate_limit_per_ip_per_min, 60),
            tasks_per_user=Limit("tasks_user", settings.rate_limit_tasks_per_user_per_min, 60),
            login_per_account_ip=Limit(
                "login_account_ip", settings.rate_limit_login_per_account_ip_per_min, 60
            ),
            login_per_ip=Limit("login_ip", settings.rate_limit_login_per_ip_per_min, 60),
            login_failures_per_account=Limit(
                "login_fail_account", settings.rate_limit_login_failures_per_account_per_min, 60
            ),
        )


@cache
def configured_limits() -> Limits:
    """The limits from settings, built once (forgotten by `reset_clients()`)."""
    return Limits.from_settings(get_settings())


@cache
def get_rate_limiter() -> RateLimiter:
    """The process's limiter on `get_redis()`, created on first use (no round trip)."""
    return RedisRateLimiter(
        get_redis(), retry_after_failure_s=get_settings().rate_limit_retry_after_failure_s
    )
