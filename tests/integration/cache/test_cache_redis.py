"""The two-level cache on a real Redis: stampedes, absent keys, stale values, XFetch,
jitter, invalidation across processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from retouch.cache import CacheKey
from retouch.cache.keys import lock_key, value_key
from retouch.cache.redis_level import StoredEntry
from retouch.core.redis import get_redis
from tests.clock import Clock
from tests.conftest import ROOT, Stack
from tests.integration.cache_support import (
    FEATURE,
    CountingDatabase,
    Feature,
    new_cache,
    run_threads,
    unique_namespace,
)

pytestmark = pytest.mark.integration


def test_200_concurrent_reads_of_a_cold_key_load_it_once(stack: Stack) -> None:
    # GIVEN one instance, a cold key and a database that takes 50 ms to answer
    cache = new_cache()
    key = CacheKey(unique_namespace(), "cutout")
    database = CountingDatabase({"cutout": Feature(key="cutout", cost=2)}, delay_s=0.05)
    results: list[Feature | None] = []

    # WHEN 200 threads read it at once
    run_threads(
        lambda _: results.append(cache.get_or_load(key, database.loader("cutout"), codec=FEATURE)),
        200,
    )

    # THEN the database was asked once, Redis rebuilt once, and everyone got the value
    assert database.loads["cutout"] == 1
    assert cache.counters.totals["CacheRebuild"] == 1
    assert results == [Feature(key="cutout", cost=2)] * 200


def test_200_concurrent_reads_across_instances_load_a_cold_key_once(stack: Stack) -> None:
    # GIVEN eight instances (each its own in-process level) sharing Redis, and a cold key
    instances = [new_cache() for _ in range(8)]
    key = CacheKey(unique_namespace(), "eraser")
    database = CountingDatabase({"eraser": Feature(key="eraser", cost=3)}, delay_s=0.05)
    results: list[Feature | None] = []

    # WHEN 25 threads per instance read it at once
    run_threads(
        lambda index: results.append(
            instances[index % 8].get_or_load(key, database.loader("eraser"), codec=FEATURE)
        ),
        200,
    )

    # THEN the Redis lock let one instance load; the others waited and read its value
    assert database.loads["eraser"] == 1
    assert sum(cache.counters.totals["CacheRebuild"] for cache in instances) == 1
    assert results == [Feature(key="eraser", cost=3)] * 200


def test_10000_reads_of_absent_keys_load_each_at_most_once(stack: Stack) -> None:
    # GIVEN four instances, 100 keys that exist nowhere, and local levels that expire fast
    clock = Clock()
    instances = [new_cache(clock=clock.seconds, local_ttl_s=0.5) for _ in range(4)]
    namespace = unique_namespace()
    database = CountingDatabase()

    # WHEN 10,000 reads spread over the instances and 10 s (within the 60 s negative TTL)
    results = set()
    for read in range(10_000):
        key_id = f"missing-{read % 100}"
        cache = instances[read % 4]
        results.add(
            cache.get_or_load(CacheKey(namespace, key_id), database.loader(key_id), codec=FEATURE)
        )
        clock.advance(0.001)

    # THEN every read was absent and each key reached the database once
    assert results == {None}
    assert len(database.loads) == 100
    assert max(database.loads.values()) == 1
    assert sum(cache.counters.totals["CacheNegativeHit"] for cache in instances) == 9_900


def test_an_expired_value_is_served_while_another_caller_rebuilds_it(stack: Stack) -> None:
    # GIVEN a value past its Redis lifetime but still kept, and its rebuild lock held elsewhere
    clock = Clock()
    cache = new_cache(clock=clock.seconds, redis_ttl_s=10, ttl_jitter=0)
    key = CacheKey(unique_namespace(), "outfit")
    database = CountingDatabase({"outfit": Feature(key="outfit", cost=4)})
    cache.get_or_load(key, database.loader("outfit"), codec=FEATURE)
    database.rows["outfit"] = Feature(key="outfit", cost=5)
    clock.advance(11)
    holder = get_redis().lock(lock_key(key, 0), timeout=5)
    assert holder.acquire(blocking=False)

    # WHEN it is read
    try:
        value = cache.get_or_load(key, database.loader("outfit"), codec=FEATURE)
    finally:
        holder.release()

    # THEN the stale copy answers at once and the database is not asked
    assert value == Feature(key="outfit", cost=4)
    assert database.loads["outfit"] == 1
    assert cache.counters.totals["CacheStale"] == 1

    # AND once the lock is free, the next reader past the local TTL rebuilds it
    clock.advance(5)
    assert (
        cache.get_or_load(key, database.loader("outfit"), codec=FEATURE) == database.rows["outfit"]
    )
    assert database.loads["outfit"] == 2


def test_xfetch_refreshes_a_hot_key_before_it_expires(stack: Stack) -> None:
    # GIVEN a value that took 1 s to compute, lives 100 s, and is read 5 s before expiry
    clock = Clock()
    draws = [0.0]
    cache = new_cache(clock=clock.seconds, random=lambda: draws[0], redis_ttl_s=100, ttl_jitter=0)
    key = CacheKey(unique_namespace(), "faceswap")
    database = CountingDatabase({"faceswap": Feature(key="faceswap", cost=6)})

    def slow_load() -> Feature | None:
        clock.advance(1.0)
        return database.loader("faceswap")()

    cache.get_or_load(key, slow_load, codec=FEATURE)
    clock.advance(95)

    # WHEN the draw is unlucky (1 - 0 = 1: -ln 1 = 0), then lucky (1 - 0.999: -ln = 6.9 s)
    cache.get_or_load(key, slow_load, codec=FEATURE)
    loads_after_unlucky = database.loads["faceswap"]
    clock.advance(3.5)  # past the local level
    draws[0] = 0.999
    cache.get_or_load(key, slow_load, codec=FEATURE)

    # THEN only the lucky read recomputed early, and the new value lives another 100 s
    assert loads_after_unlucky == 1
    assert database.loads["faceswap"] == 2
    raw = get_redis().get(value_key(key, 0))
    assert raw is not None
    assert StoredEntry.parse(str(raw)).expires_at == pytest.approx(clock.seconds() + 100)


def test_lifetimes_carry_up_to_ten_percent_jitter(stack: Stack) -> None:
    # GIVEN 200 keys written with a 100 s lifetime and 10 % jitter
    clock = Clock()
    cache = new_cache(clock=clock.seconds, redis_ttl_s=100, ttl_jitter=0.1)
    namespace = unique_namespace()
    for index in range(200):
        key_id = f"k{index}"
        cache.get_or_load(
            CacheKey(namespace, key_id), lambda: Feature(key="k", cost=1), codec=FEATURE
        )

    # THEN each expires within [100, 110] s, kept in Redis twice as long, and they differ
    lifetimes = []
    for index in range(200):
        key = value_key(CacheKey(namespace, f"k{index}"), 0)
        stored = StoredEntry.parse(str(get_redis().get(key)))
        lifetimes.append(stored.expires_at - clock.seconds())
        assert 2 * 100_000 - 2_000 <= get_redis().pttl(key) <= 2 * 110_000
    assert all(100 <= lifetime <= 110 for lifetime in lifetimes)
    assert max(lifetimes) - min(lifetimes) > 5


def test_invalidation_retires_redis_values_and_the_local_level_at_once(stack: Stack) -> None:
    # GIVEN a value cached in both levels, then changed in the database
    cache = new_cache()
    namespace = unique_namespace()
    key = CacheKey(namespace, "cutout")
    database = CountingDatabase({"cutout": Feature(key="cutout", cost=2)})
    cache.get_or_load(key, database.loader("cutout"), codec=FEATURE)
    database.rows["cutout"] = Feature(key="cutout", cost=9)

    # WHEN the namespace is invalidated
    assert cache.get_or_load(key, database.loader("cutout"), codec=FEATURE).cost == 2  # type: ignore[union-attr]
    cache.invalidate(namespace)

    # THEN this process reads the new value, and Redis holds it under the new version
    assert (
        cache.get_or_load(key, database.loader("cutout"), codec=FEATURE) == database.rows["cutout"]
    )
    assert get_redis().get(f"c:{{{namespace}}}:ver") == "1"
    assert get_redis().exists(value_key(key, 1)) == 1


# A second instance: reads the key every 20 ms and prints each change with the wall time.
_READER = """
import sys, time
from pydantic import BaseModel
from retouch.cache import CacheKey, JsonCodec, get_cache
from pathlib import Path

class Feature(BaseModel):
    key: str
    cost: int

codec, source = JsonCodec(Feature), Path(sys.argv[2])
key = CacheKey(sys.argv[1], "cutout")
last = None
deadline = time.time() + 30
while time.time() < deadline:
    value = get_cache().get_or_load(
        key, lambda: Feature.model_validate_json(source.read_text()), codec=codec
    )
    if value.cost != last:
        last = value.cost
        print(f"{time.time()} {value.cost}", flush=True)
        if value.cost == 9:
            break
    time.sleep(0.02)
"""


def test_an_invalidation_reaches_another_process_within_the_local_ttl(
    stack: Stack, tmp_path: Path
) -> None:
    # GIVEN a second process with a 1 s local TTL that has read a value (both levels warm)
    namespace = unique_namespace()
    source = tmp_path / "cutout.json"
    source.write_text(Feature(key="cutout", cost=2).model_dump_json())
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'layers' / 'retouch'}{os.pathsep}{ROOT}",
        "RETOUCH_CACHE_LOCAL_TTL_S": "1.0",
    }
    reader = subprocess.Popen(  # noqa: S603 - our own interpreter and snippet
        [sys.executable, "-c", _READER, namespace, str(source)],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().split()[1] == "2"

        # WHEN the database changes: without an invalidation the other process keeps its
        # cached value (Redis lives minutes) well past its local TTL
        source.write_text(Feature(key="cutout", cost=9).model_dump_json())
        time.sleep(2.5)
        assert reader.poll() is None
        invalidated_at = time.time()
        new_cache().invalidate(namespace)

        # THEN with it, the other process sees the change within its local TTL (+ scheduling)
        seen_at, cost = reader.stdout.readline().split()
        assert cost == "9"
        assert float(seen_at) - invalidated_at < 1.0 + 0.5
        assert reader.wait(timeout=10) == 0
    finally:
        reader.kill()
        reader.wait()
