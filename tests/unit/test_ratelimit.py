"""The rate-limit API without Redis: limits, decisions, headers, the error, the in-memory GCRA."""

from __future__ import annotations

import pytest

from retouch.core.errors import AppError
from retouch.core.ratelimit import (
    Decision,
    Limit,
    MemoryRateLimiter,
    RateLimited,
    configured_limits,
    storage_key,
)
from tests.clock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def limiter(clock: Clock) -> MemoryRateLimiter:
    return MemoryRateLimiter(clock=clock)


FIVE_PER_MINUTE = Limit("unit", 5, 60)


def test_allows_a_burst_of_the_rate_then_refuses(limiter: MemoryRateLimiter) -> None:
    decisions = [limiter.hit(FIVE_PER_MINUTE, "203.0.113.7") for _ in range(6)]

    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    refused = decisions[-1]
    assert refused.limit == 5
    assert refused.retry_after_s == 12  # one request per 60 / 5 s
    assert refused.reset_s == 60


def test_refills_one_request_per_interval(limiter: MemoryRateLimiter, clock: Clock) -> None:
    for _ in range(5):
        limiter.hit(FIVE_PER_MINUTE, "client")

    clock.advance(11.9)
    assert not limiter.hit(FIVE_PER_MINUTE, "client").allowed
    clock.advance(0.1)
    assert limiter.hit(FIVE_PER_MINUTE, "client").allowed
    assert not limiter.hit(FIVE_PER_MINUTE, "client").allowed

    clock.advance(60)
    assert limiter.hit(FIVE_PER_MINUTE, "client").remaining == 4


def test_refused_requests_are_not_counted(limiter: MemoryRateLimiter, clock: Clock) -> None:
    for _ in range(20):
        limiter.hit(FIVE_PER_MINUTE, "client")

    clock.advance(12)

    assert limiter.hit(FIVE_PER_MINUTE, "client").allowed


def test_keys_and_limits_count_separately(limiter: MemoryRateLimiter) -> None:
    other_limit = Limit("other", 5, 60)
    for _ in range(5):
        limiter.hit(FIVE_PER_MINUTE, "first")

    assert not limiter.hit(FIVE_PER_MINUTE, "first").allowed
    assert limiter.hit(FIVE_PER_MINUTE, "second").remaining == 4
    assert limiter.hit(other_limit, "first").remaining == 4


def test_a_cost_counts_as_that_many_requests(limiter: MemoryRateLimiter) -> None:
    assert limiter.hit(FIVE_PER_MINUTE, "client", cost=3).remaining == 2

    refused = limiter.hit(FIVE_PER_MINUTE, "client", cost=3)

    assert not refused.allowed
    assert refused.remaining == 2
    assert refused.retry_after_s == 12


@pytest.mark.parametrize("cost", [0, -1, 6])
def test_a_cost_outside_one_to_the_rate_is_a_programming_error(
    limiter: MemoryRateLimiter, cost: int
) -> None:
    with pytest.raises(ValueError, match="cost"):
        limiter.hit(FIVE_PER_MINUTE, "client", cost=cost)


@pytest.mark.parametrize(
    ("name", "rate", "period_s"), [("", 5, 60), ("a:b", 5, 60), ("x", 0, 60), ("x", 5, 0)]
)
def test_an_invalid_limit_is_refused(name: str, rate: int, period_s: int) -> None:
    with pytest.raises(ValueError, match="invalid rate limit"):
        Limit(name, rate, period_s)


def test_allowed_decision_headers() -> None:
    decision = Decision(allowed=True, limit=100, remaining=42, reset_s=35, retry_after_s=0)

    assert decision.headers() == {
        "RateLimit-Limit": "100",
        "RateLimit-Remaining": "42",
        "RateLimit-Reset": "35",
    }


def test_refused_decision_adds_retry_after() -> None:
    decision = Decision(allowed=False, limit=5, remaining=0, reset_s=60, retry_after_s=12)

    assert decision.headers()["Retry-After"] == "12"


def test_unenforced_decision_has_no_headers() -> None:
    decision = Decision(
        allowed=True, limit=5, remaining=5, reset_s=0, retry_after_s=0, enforced=False
    )

    assert decision.headers() == {}


def test_rate_limited_is_a_429_carrying_the_decision_headers() -> None:
    decision = Decision(allowed=False, limit=5, remaining=0, reset_s=60, retry_after_s=12)

    error = RateLimited.from_decision(decision)

    assert isinstance(error, AppError)
    assert error.error_code.status == 429
    assert error.code == "RATE_LIMITED"
    assert error.headers == decision.headers()
    assert error.detail == "Too many requests; retry in 12 s"


def test_storage_key_is_namespaced_and_hides_the_callers_key() -> None:
    key = storage_key(Limit("login_account_ip", 5, 60), "alice@example.com|203.0.113.7")

    prefix, name, digest = key.split(":")
    assert (prefix, name) == ("rl", "login_account_ip")
    assert len(digest) == 32 and "alice" not in key
    assert key == storage_key(Limit("login_account_ip", 9, 1), "alice@example.com|203.0.113.7")


def test_configured_limits_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RETOUCH_RATE_LIMIT_PER_IP_PER_MIN", raising=False)  # the default
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_TASKS_PER_USER_PER_MIN", "7")

    limits = configured_limits()

    assert limits.per_ip == Limit("ip", 100, 60)
    assert limits.tasks_per_user == Limit("tasks_user", 7, 60)
    assert limits.login_per_account_ip == Limit("login_account_ip", 5, 60)
    assert limits.login_per_ip == Limit("login_ip", 20, 60)
