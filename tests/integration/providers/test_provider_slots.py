"""A provider's slot and its breaker in one script against a real Redis: `take_slot` answers
"breaker open" without touching the slots, and instances racing for the last slots never take
more than the limit, whether the breaker opens in the middle or not."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from retouch.core.redis import get_redis
from retouch.providers.guards import ProviderGuards
from tests.conftest import Stack

pytestmark = pytest.mark.integration


def new_key() -> str:
    return f"slots-test-{secrets.token_hex(4)}"


def test_an_open_breaker_answers_without_taking_or_renewing_a_slot(stack: Stack) -> None:
    key, redis = new_key(), get_redis()
    guards = ProviderGuards(redis)
    assert guards.take_slot(key, "job-1", limit=2, hold_s=60) == "taken"
    before = redis.zscore(f"slots:{{{key}}}", "job-1")
    redis.set(f"breaker:{{{key}}}:open", "1", px=60_000)

    answers = [guards.take_slot(key, holder, limit=2, hold_s=600) for holder in ("job-1", "job-2")]

    assert answers == ["breaker open", "breaker open"]
    assert redis.zrange(f"slots:{{{key}}}", 0, -1, withscores=True) == [("job-1", before)]


def test_racing_instances_take_at_most_the_limit_and_none_once_the_breaker_opens(
    stack: Stack,
) -> None:
    key, redis = new_key(), get_redis()
    guards = ProviderGuards(redis)

    with ThreadPoolExecutor(8) as pool:
        first = list(
            pool.map(lambda n: guards.take_slot(key, f"job-{n}", limit=3, hold_s=60), range(24))
        )
        redis.set(f"breaker:{{{key}}}:open", "1", px=60_000)
        second = list(
            pool.map(lambda n: guards.take_slot(key, f"late-{n}", limit=9, hold_s=60), range(24))
        )

    assert (first.count("taken"), first.count("full")) == (3, 21)
    assert set(second) == {"breaker open"}
    assert redis.zcard(f"slots:{{{key}}}") == 3
