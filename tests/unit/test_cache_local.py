"""The cache's in-process parts: LRU bound, single-flight, key checks, jitter and XFetch."""

from __future__ import annotations

import threading
import time

import redis
from pydantic import BaseModel

from retouch.cache import Cache, CacheConfig, CacheKey, JsonCodec
from retouch.cache.local import LocalCache, SingleFlight
from retouch.cache.metrics import LOCAL_HIT, MISS, CacheCounters
from retouch.cache.redis_level import RedisLevel, StoredEntry
from retouch.cache.two_level import jittered, refresh_early
from retouch.core.metrics import Recorder, reset_recorder
from tests.fakes.metrics import MemorySink


class Feature(BaseModel):
    key: str
    cost: int


FEATURE = JsonCodec(Feature)


def test_local_level_evicts_the_least_recently_used_entry_beyond_its_bound() -> None:
    # GIVEN a local level of three entries, where "a" was read after "b" and "c"
    local: LocalCache[str] = LocalCache(3)
    for key in ("a", "b", "c"):
        local.put(key, key.upper(), expires_at=100.0)
    assert local.get("a", now=0.0) is not None

    # WHEN a fourth entry arrives
    local.put("d", "D", expires_at=100.0)

    # THEN "b", the least recently used, is gone and the bound holds
    assert len(local) == 3
    assert local.get("b", now=0.0) is None
    assert [local.get(key, now=0.0) is not None for key in ("a", "c", "d")] == [True] * 3


def test_local_level_never_returns_an_expired_entry() -> None:
    local: LocalCache[str] = LocalCache(3)
    local.put("a", "A", expires_at=10.0)

    assert local.get("a", now=9.999) is not None
    assert local.get("a", now=10.0) is None
    assert len(local) == 0


def test_single_flight_shares_one_execution_among_concurrent_callers() -> None:
    # GIVEN 50 threads asking for the same key at once, and a slow computation
    flights = SingleFlight()
    calls: list[int] = []
    start = threading.Barrier(50)
    results: list[str] = []

    def compute() -> str:
        calls.append(1)
        time.sleep(0.1)
        return "value"

    def caller() -> None:
        start.wait()
        results.append(flights.do("key", compute))

    # WHEN they all run
    threads = [threading.Thread(target=caller) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    # THEN one computed and all got its result
    assert len(calls) == 1
    assert results == ["value"] * 50


def unreachable_cache() -> Cache:
    """A cache whose Redis client was never connected (nothing listens on port 1)."""
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    return Cache(RedisLevel(client, lock_timeout_s=1, lock_wait_s=0), CacheConfig())


def test_malformed_or_refused_keys_are_absent_without_any_lookup() -> None:
    # GIVEN a cache, and keys a client could send: odd characters, too long, or refused by
    # the caller's own rule (feature keys are lower-case words)
    cache = unreachable_cache()
    loads: list[str] = []

    def loader() -> Feature | None:
        loads.append("load")
        return Feature(key="x", cost=1)

    keys = [
        CacheKey("features", "../etc"),
        CacheKey("features", "a b"),
        CacheKey("features", "x" * 200),
    ]

    # WHEN they are read
    results = [cache.get_or_load(key, loader, codec=FEATURE) for key in keys]
    refused = cache.get_or_load(
        CacheKey("features", "UPPER"), loader, codec=FEATURE, accept=str.islower
    )

    # THEN each is absent, and neither the loader nor Redis was asked
    assert results == [None, None, None]
    assert refused is None
    assert loads == []
    assert cache.counters.totals["CacheRejected"] == 4
    assert cache.counters.totals["CacheRedisError"] == 0


def test_jitter_stretches_lifetimes_by_at_most_the_configured_fraction() -> None:
    assert jittered(300.0, 0.1, 0.0) == 300.0
    assert 329.99 < jittered(300.0, 0.1, 0.99999) < 330.0
    assert jittered(300.0, 0.0, 0.7) == 300.0


def test_xfetch_refreshes_earlier_for_slower_recomputes_and_luckier_draws() -> None:
    # GIVEN a value expiring at t=1000 that took 1 s to compute
    entry = StoredEntry(payload="{}", expires_at=1000.0, delta_s=1.0)

    # THEN a draw of 1 never refreshes early; a small draw refreshes -delta*ln(draw) early
    assert not refresh_early(entry, now=999.9, draw=1.0)
    assert refresh_early(entry, now=1000.0, draw=1.0)
    assert refresh_early(entry, now=995.5, draw=0.01)  # -ln(0.01) = 4.6 s early
    assert not refresh_early(entry, now=995.0, draw=0.01)
    slow = StoredEntry(payload="{}", expires_at=1000.0, delta_s=3.0)
    assert refresh_early(slow, now=987.0, draw=0.01)  # 13.8 s early


def test_codec_round_trips_pydantic_models_and_lists() -> None:
    features = JsonCodec[list[Feature]](list[Feature])
    value = [Feature(key="cutout", cost=2)]

    assert features.decode(features.encode(value)) == value
    assert FEATURE.decode(FEATURE.encode(value[0])) == value[0]


def test_counters_reach_the_metrics_recorder_summed_at_most_once_per_interval() -> None:
    # GIVEN counters that publish at most once a second, on a clock the test moves
    now = [100.0]
    counters = CacheCounters(publish_every_s=1.0, clock=lambda: now[0])
    sink = MemorySink()
    reset_recorder(Recorder(sink))
    try:
        # WHEN five local hits and a miss arrive within the first second, then one more hit
        for _ in range(5):
            counters.count(LOCAL_HIT)
        counters.count(MISS)
        published_in_first_second = [name for name, *_ in sink.pending]
        now[0] += 1.0
        counters.count(LOCAL_HIT)

        # THEN the first event went out at once, the rest as sums a second later
        assert published_in_first_second == [LOCAL_HIT]
        sums = [(name, value) for name, value, _, _ in sink.pending]
        assert sorted(sums) == [(LOCAL_HIT, 1), (LOCAL_HIT, 5), (MISS, 1)]
        assert counters.totals == {LOCAL_HIT: 6, MISS: 1}
    finally:
        reset_recorder()
