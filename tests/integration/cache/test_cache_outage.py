"""The cache while Redis is stopped and started again (this module's own servers)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator

import pytest

from retouch.cache import CacheKey
from tests.conftest import LogLines, Stack
from tests.integration.cache_support import (
    FEATURE,
    CountingDatabase,
    Feature,
    new_cache,
    unique_namespace,
)

pytestmark = pytest.mark.integration

DOWN = "cache: Redis unavailable; reading through to the database"
BACK = "cache: Redis is back"


@pytest.fixture(autouse=True)
def _redis_running(private_stack: Stack) -> Iterator[None]:
    yield
    if private_stack.redis.process is None:
        private_stack.redis.start()


def test_reads_survive_a_redis_outage_and_use_redis_again_when_it_returns(
    private_stack: Stack, log_lines: LogLines
) -> None:
    # GIVEN 20 keys read by 8 threads in a loop, with a 50 ms local level (so reads keep
    # going to Redis) and a 200 ms breaker window
    cache = new_cache(local_ttl_s=0.05, retry_after_failure_s=0.2)
    namespace = unique_namespace()
    rows = {f"f{index}": Feature(key=f"f{index}", cost=index) for index in range(20)}
    database = CountingDatabase(rows)
    wrong: list[tuple[str, Feature | None]] = []
    reads = [0]
    stop = threading.Event()

    def reader(offset: int) -> None:
        index = offset
        while not stop.is_set():
            key_id = f"f{index % 20}"
            value = cache.get_or_load(
                CacheKey(namespace, key_id), database.loader(key_id), codec=FEATURE
            )
            if value != rows[key_id]:
                wrong.append((key_id, value))
            reads[0] += 1
            index += 1

    threads = [threading.Thread(target=reader, args=(offset,)) for offset in range(8)]
    for thread in threads:
        thread.start()
    try:
        stop.wait(0.5)
        loads_before_outage = sum(database.loads.values())

        # WHEN Redis stops for a second, then starts again (empty: no persistence)
        private_stack.redis.stop()
        stop.wait(1.0)
        loads_during_outage = sum(database.loads.values()) - loads_before_outage
        private_stack.redis.start()
        stop.wait(1.0)  # the breaker lets a trial through, the keys are rebuilt once
        loads_after_recovery = sum(database.loads.values())
        stop.wait(1.0)
        loads_in_last_second = sum(database.loads.values()) - loads_after_recovery
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)

    # THEN every read returned the database's value
    assert wrong == []
    assert reads[0] > 1000
    # Before: each key loaded once. During: from the database, about once per key per local
    # TTL. After: Redis serves again, so the database is no longer asked.
    assert loads_before_outage == 20
    assert loads_during_outage > 20
    assert loads_in_last_second == 0
    # AND one warning when the outage began, one line when Redis came back
    assert len(log_lines.with_message(DOWN)) == 1
    assert len(log_lines.with_message(BACK)) == 1
    assert cache.counters.totals["CacheRedisError"] >= 1


def test_a_hung_redis_costs_one_timeout_then_nothing_while_the_breaker_is_open(
    private_stack: Stack, log_lines: LogLines
) -> None:
    # GIVEN a Redis that accepts connections but never answers (stopped with SIGSTOP), and a
    # breaker window longer than the test
    cache = new_cache(retry_after_failure_s=60)
    namespace = unique_namespace()
    rows = {f"f{index}": Feature(key=f"f{index}", cost=index) for index in range(50)}
    database = CountingDatabase(rows)
    process = private_stack.redis.process
    assert process is not None
    process.send_signal(signal.SIGSTOP)

    # WHEN 50 different keys are read
    try:
        values = [
            cache.get_or_load(CacheKey(namespace, key_id), database.loader(key_id), codec=FEATURE)
            for key_id in rows
        ]
    finally:
        process.send_signal(signal.SIGCONT)

    # THEN each came from the database, and only the first read waited for Redis
    assert values == list(rows.values())
    assert cache.counters.totals["CacheRedisError"] == 1
    assert len(log_lines.with_message(DOWN)) == 1
