"""Helpers of the cache tests: a cache on the test Redis with chosen settings, a clock."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from retouch.cache import Cache, CacheConfig, JsonCodec
from retouch.cache.redis_level import RedisLevel
from retouch.core.redis import get_redis


class Feature(BaseModel):
    key: str
    cost: int


FEATURE = JsonCodec(Feature)


def new_cache(**config: Any) -> Cache:
    """A cache (one "instance") on the test Redis; `config` overrides CacheConfig fields;
    `clock` and `random` go to the cache."""
    options = {name: config.pop(name) for name in ("clock", "random") if name in config}
    settings = CacheConfig(**config)
    level = RedisLevel(
        get_redis(), lock_timeout_s=settings.lock_timeout_s, lock_wait_s=settings.lock_wait_s
    )
    return Cache(level, settings, **options)


def unique_namespace() -> str:
    """A namespace no other test shares: the session's Redis keeps every key."""
    return f"t{uuid.uuid4().hex[:12]}"


class CountingDatabase:
    """The loader's source of truth: rows by id, and how often each id was loaded."""

    def __init__(self, rows: dict[str, Feature] | None = None, *, delay_s: float = 0.0) -> None:
        self.rows = rows or {}
        self.loads: Counter[str] = Counter()
        self._delay_s = delay_s
        self._lock = threading.Lock()

    def loader(self, key_id: str) -> Callable[[], Feature | None]:
        def load() -> Feature | None:
            with self._lock:
                self.loads[key_id] += 1
            if self._delay_s:
                threading.Event().wait(self._delay_s)
            return self.rows.get(key_id)

        return load


def run_threads(target: Callable[[int], None], count: int) -> None:
    """Start `count` threads on `target(index)` behind a barrier, and wait for all."""
    start = threading.Barrier(count)

    def run(index: int) -> None:
        start.wait()
        target(index)

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
