"""`Cache`: cache-aside over an in-process level and Redis, built to survive stampedes and
outages (DESIGN.md §7; docs/architecture.md "Cache").

    FEATURE = JsonCodec(FeatureRead)
    feature = get_cache().get_or_load(
        CacheKey("features", key), lambda: repository.find(key), codec=FEATURE
    )
    ...
    get_cache().invalidate("features")  # after the write committed
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from functools import cache
from typing import Generic, TypeVar, cast

import redis
from redis.lock import Lock

from retouch.cache import metrics as counted
from retouch.cache.codecs import Codec
from retouch.cache.keys import NAMESPACE_PATTERN, CacheKey
from retouch.cache.local import LocalCache, SingleFlight
from retouch.cache.redis_level import RedisLevel, StoredEntry
from retouch.core.breaker import SkipWindow
from retouch.core.errors import ServiceUnavailable
from retouch.core.logging import logger
from retouch.core.redis import get_redis
from retouch.core.settings import Settings, get_settings

T = TypeVar("T")
XFETCH_BETA = 1.0


@dataclass(frozen=True, slots=True)
class _Read(Generic[T]):
    """One `get_or_load` call, as the levels below the local one see it."""

    key: CacheKey
    local_key: Hashable
    loader: Callable[[], T | None]
    codec: Codec[T]
    ttl_s: float | None


class CacheUnavailable(ServiceUnavailable):
    """An invalidation could not reach Redis: other instances may serve the old value until
    its Redis lifetime ends. The caller's write itself has committed."""


@dataclass(frozen=True, slots=True)
class CacheConfig:
    """Lifetimes and limits (`RETOUCH_CACHE_*`), in seconds."""

    local_ttl_s: float = 3.0
    local_max_entries: int = 1024
    redis_ttl_s: float = 300.0
    negative_ttl_s: float = 60.0
    ttl_jitter: float = 0.1
    lock_timeout_s: float = 5.0
    lock_wait_s: float = 1.0
    retry_after_failure_s: float = 1.0

    @classmethod
    def from_settings(cls, settings: Settings) -> CacheConfig:
        return cls(
            local_ttl_s=settings.cache_local_ttl_s,
            local_max_entries=settings.cache_local_max_entries,
            redis_ttl_s=settings.cache_redis_ttl_s,
            negative_ttl_s=settings.cache_negative_ttl_s,
            ttl_jitter=settings.cache_ttl_jitter,
            lock_timeout_s=settings.cache_lock_timeout_s,
            lock_wait_s=settings.cache_lock_wait_s,
            retry_after_failure_s=settings.cache_retry_after_failure_s,
        )


def jittered(ttl_s: float, jitter: float, uniform: float) -> float:
    """`ttl_s` stretched by `jitter` × `uniform` (a draw in [0, 1)): keys written together
    do not expire together (avalanche)."""
    return ttl_s * (1.0 + jitter * uniform)


def refresh_early(entry: StoredEntry, now: float, draw: float) -> bool:
    """XFetch (Vattani et al., PVLDB 2015): recompute before expiry with a probability that
    grows as expiry nears and with the recompute time; `draw` is uniform in (0, 1]."""
    return now - entry.delta_s * XFETCH_BETA * math.log(draw) >= entry.expires_at


class Cache:
    """Two-level cache-aside; see the module docstring. Thread-safe.

    `clock` (epoch seconds; Redis entries carry absolute expiries every instance reads) and
    `random` (uniform in [0, 1)) are injectable so tests decide time and chance.
    """

    def __init__(
        self,
        redis_level: RedisLevel,
        config: CacheConfig,
        *,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.counters = counted.CacheCounters()
        self._redis = redis_level
        self._clock = clock
        self._random = random
        self._local: LocalCache[object] = LocalCache(config.local_max_entries)
        self._versions: LocalCache[int] = LocalCache(config.local_max_entries)
        self._flights = SingleFlight()
        self._skip = SkipWindow(config.retry_after_failure_s)

    def get_or_load(
        self,
        key: CacheKey,
        loader: Callable[[], T | None],
        *,
        codec: Codec[T],
        ttl_s: float | None = None,
        accept: Callable[[str], bool] | None = None,
    ) -> T | None:
        """The value of `key`, from the first level that has it, else from `loader` (None:
        absent, remembered for the negative TTL). A malformed key, or one `accept` refuses,
        is absent without any lookup. `ttl_s` overrides the Redis lifetime."""
        if not key.is_well_formed() or (accept is not None and not accept(key.id)):
            self.counters.count(counted.REJECTED)
            return None
        local_key = (key.namespace, key.id)
        entry = self._local.get(local_key, self._clock())
        if entry is not None:
            self.counters.count(
                counted.LOCAL_HIT if entry.value is not None else counted.NEGATIVE_HIT
            )
            return cast("T | None", entry.value)
        read = _Read(key, local_key, loader, codec, ttl_s)
        return self._flights.do(local_key, lambda: self._fetch(read))

    def invalidate(self, namespace: str) -> None:
        """Retire every value of `namespace` on every instance: Redis at once (INCR of the
        version), this process's level at once, other processes' within the local TTL."""
        if not NAMESPACE_PATTERN.fullmatch(namespace):
            raise ValueError(f"malformed cache namespace {namespace!r}")
        try:
            version = self._redis.bump(namespace)
        except redis.RedisError as exc:
            self._redis_failed(exc)
            raise CacheUnavailable("cache invalidation did not reach Redis") from exc
        finally:
            self._local.drop_where(lambda local_key: _in_namespace(local_key, namespace))
        self._versions.put(namespace, version, math.inf)

    def _fetch(self, read: _Read[T]) -> T | None:
        """The single-flight leader's work: Redis, and the loader when Redis has nothing."""
        key = read.key
        entry = self._local.get(read.local_key, self._clock())
        if entry is not None:  # a flight that ended just before this one filled it
            return cast("T | None", entry.value)
        if self._skip.is_open():
            return self._load(read, version=None)
        hint = self._versions.get(key.namespace, 0.0)
        try:
            version, stored = self._redis.read(key, hint.value if hint else 0)
        except redis.RedisError as exc:
            self._redis_failed(exc)
            return self._load(read, version=None)
        if self._skip.succeeded():
            logger.info("cache: Redis is back")
        self._versions.put(key.namespace, version, math.inf)
        now = self._clock()
        if stored is None or now >= stored.expires_at:
            return self._rebuild(read, version, stored)
        if refresh_early(stored, now, 1.0 - self._random()):
            return self._rebuild(read, version, stored)
        self.counters.count(counted.REDIS_HIT if stored.payload else counted.NEGATIVE_HIT)
        return self._keep_local(read, stored)

    def _rebuild(self, read: _Read[T], version: int, stored: StoredEntry | None) -> T | None:
        """One rebuild per key across instances (the Redis lock). Without the lock: serve
        the copy at hand (stale, or due for an early refresh), else wait for the holder's
        value a moment, else load without writing."""
        key = read.key
        lock = self._redis.lock(key, version)
        try:
            acquired = lock.acquire(blocking=stored is None)
            if acquired:
                # Another caller may have rebuilt it between our read and our lock.
                _, latest = self._redis.read(key, version)
                if latest is not None and latest != stored and self._clock() < latest.expires_at:
                    _release(lock)
                    self.counters.count(
                        counted.REDIS_HIT if latest.payload else counted.NEGATIVE_HIT
                    )
                    return self._keep_local(read, latest)
        except redis.RedisError as exc:
            self._redis_failed(exc)
            acquired = False
        if not acquired:
            if stored is not None:
                if self._clock() >= stored.expires_at:
                    self.counters.count(counted.STALE)
                return self._keep_local(read, stored)
            return self._load(read, version=None)
        try:
            self.counters.count(counted.REBUILD)
            return self._load(read, version=version)
        finally:
            _release(lock)

    def _load(self, read: _Read[T], *, version: int | None) -> T | None:
        """Call the loader, keep the result locally, and in Redis when `version` is given."""
        self.counters.count(counted.MISS)
        started = self._clock()
        value = read.loader()
        now = self._clock()
        if version is not None:
            base = (read.ttl_s or self.config.redis_ttl_s) if value is not None else None
            lifetime = jittered(
                base or self.config.negative_ttl_s, self.config.ttl_jitter, self._random()
            )
            payload = read.codec.encode(value) if value is not None else None
            stored = StoredEntry(payload, now + lifetime, now - started)
            try:
                self._redis.write(read.key, version, stored, keep_s=2 * lifetime)
            except redis.RedisError as exc:
                self._redis_failed(exc)
        self._local.put(read.local_key, value, now + self._local_ttl(value is None))
        return value

    def _keep_local(self, read: _Read[T], stored: StoredEntry) -> T | None:
        value = read.codec.decode(stored.payload) if stored.payload is not None else None
        self._local.put(read.local_key, value, self._clock() + self._local_ttl(value is None))
        return value

    def _local_ttl(self, absent: bool) -> float:
        ttl = self.config.local_ttl_s
        return min(ttl, self.config.negative_ttl_s) if absent else ttl

    def _redis_failed(self, exc: Exception) -> None:
        self.counters.count(counted.REDIS_ERROR)
        if self._skip.trip():
            logger.warning(
                "cache: Redis unavailable; reading through to the database",
                extra={"error": type(exc).__name__, "skip_s": self._skip.seconds},
            )


def _in_namespace(local_key: Hashable, namespace: str) -> bool:
    return isinstance(local_key, tuple) and local_key[0] == namespace


def _release(lock: Lock) -> None:
    try:
        lock.release()
    except redis.exceptions.LockError:
        pass  # it expired (a rebuild longer than the lock timeout); someone else may hold it
    except redis.RedisError:
        pass  # Redis went away; the lock expires by itself


@cache
def get_cache() -> Cache:
    """The process's cache on `get_redis()`, created on first use (no round trip)."""
    config = CacheConfig.from_settings(get_settings())
    level = RedisLevel(
        get_redis(), lock_timeout_s=config.lock_timeout_s, lock_wait_s=config.lock_wait_s
    )
    return Cache(level, config)
