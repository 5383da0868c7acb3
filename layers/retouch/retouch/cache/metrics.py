"""Cache counters, aggregated in process and handed to the metrics recorder about once a
second.

Recording a metric costs a few µs; an in-process hit costs less than that, so every event
is counted here (one locked increment) and the sums go to `retouch.core.metrics.emit` at
most once per `publish_every_s`, as one data point per counter (dimension: the service). They
leave with the invocation's other metrics when it ends.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable

from retouch.core.metrics import emit

LOCAL_HIT = "CacheLocalHit"
REDIS_HIT = "CacheRedisHit"
NEGATIVE_HIT = "CacheNegativeHit"
MISS = "CacheMiss"
STALE = "CacheStale"
REBUILD = "CacheRebuild"
REDIS_ERROR = "CacheRedisError"
REJECTED = "CacheRejected"


class CacheCounters:
    """Running totals (`totals`, for tests and benchmarks) and the part not yet published."""

    def __init__(
        self, *, publish_every_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.totals: Counter[str] = Counter()
        self._pending: Counter[str] = Counter()
        self._publish_every_s = publish_every_s
        self._clock = clock
        self._publish_at = 0.0
        self._lock = threading.Lock()

    def count(self, name: str) -> None:
        with self._lock:
            self.totals[name] += 1
            self._pending[name] += 1
            now = self._clock()
            if now < self._publish_at:
                return
            self._publish_at = now + self._publish_every_s
            pending, self._pending = self._pending, Counter()
        for metric, value in pending.items():
            emit(metric, value)
