"""The GCRA script on a real Redis, and the in-memory fake held to the same behaviour."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import pytest

from retouch.core.ratelimit import (
    Limit,
    MemoryRateLimiter,
    RateLimiter,
    RedisRateLimiter,
    get_rate_limiter,
    storage_key,
)
from retouch.core.redis import get_redis
from tests.clock import Clock
from tests.conftest import Stack

pytestmark = pytest.mark.integration


def unique_limit(rate: int, period_s: int) -> Limit:
    """A limit no other test shares: the session's Redis keeps every key until it expires."""
    return Limit(f"test{uuid.uuid4().hex[:12]}", rate, period_s)


@pytest.fixture(params=["redis", "memory"])
def clocked(request: pytest.FixtureRequest, stack: Stack) -> tuple[RateLimiter, Clock]:
    clock = Clock()
    if request.param == "redis":
        return RedisRateLimiter(get_redis(), clock=clock), clock
    return MemoryRateLimiter(clock=clock), clock


def test_counts_exactly_then_refuses_with_retry_after(
    clocked: tuple[RateLimiter, Clock],
) -> None:
    limiter, _ = clocked
    limit = unique_limit(5, 60)

    decisions = [limiter.hit(limit, "203.0.113.7") for _ in range(6)]

    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    assert [d.reset_s for d in decisions] == [12, 24, 36, 48, 60, 60]
    assert (decisions[-1].retry_after_s, decisions[0].retry_after_s) == (12, 0)


def test_refills_as_time_passes(clocked: tuple[RateLimiter, Clock]) -> None:
    limiter, clock = clocked
    limit = unique_limit(5, 60)
    for _ in range(5):
        limiter.hit(limit, "client")

    clock.advance(11.999)
    early = limiter.hit(limit, "client")
    clock.advance(0.001)
    on_time = limiter.hit(limit, "client")
    clock.advance(120)
    rested = limiter.hit(limit, "client")

    assert (early.allowed, early.retry_after_s) == (False, 1)
    assert (on_time.allowed, on_time.remaining) == (True, 0)
    assert (rested.allowed, rested.remaining) == (True, 4)


def test_keys_limits_and_costs(clocked: tuple[RateLimiter, Clock]) -> None:
    limiter, _ = clocked
    limit, other = unique_limit(5, 60), unique_limit(5, 60)

    assert limiter.hit(limit, "a", cost=4).remaining == 1
    assert not limiter.hit(limit, "a", cost=2).allowed
    assert limiter.hit(limit, "a").remaining == 0
    assert limiter.hit(limit, "b").remaining == 4
    assert limiter.hit(other, "a").remaining == 4


def test_uses_the_redis_clock_and_refills_in_real_time(stack: Stack) -> None:
    limiter = get_rate_limiter()
    limit = unique_limit(5, 2)  # one request per 400 ms

    assert all(limiter.hit(limit, "client").allowed for _ in range(5))
    refused = limiter.hit(limit, "client")
    time.sleep(0.45)

    assert (refused.allowed, refused.retry_after_s) == (False, 1)
    assert limiter.hit(limit, "client").allowed


def test_keys_are_hashed_and_expire_when_idle(stack: Stack) -> None:
    limit = unique_limit(5, 60)
    email_key = "alice@example.com|203.0.113.7"

    get_rate_limiter().hit(limit, email_key, cost=2)

    key = storage_key(limit, email_key)
    assert get_redis().keys(f"rl:{limit.name}:*") == [key]
    assert 23_000 < get_redis().pttl(key) <= 24_000  # until the two requests have drained
    assert not get_redis().keys("*alice*")


def test_concurrent_hits_never_exceed_the_limit(stack: Stack) -> None:
    limiter = get_rate_limiter()
    limit = unique_limit(50, 60)
    allowed: list[bool] = []
    start = threading.Barrier(20)

    def client() -> None:
        start.wait()
        results = [limiter.hit(limit, "shared").allowed for _ in range(10)]
        allowed.extend(results)

    run_threads(client, 20)

    assert len(allowed) == 200
    assert allowed.count(True) == 50


def run_threads(target: Callable[[], None], count: int) -> None:
    threads = [threading.Thread(target=target) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
