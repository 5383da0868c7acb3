"""The `generate` step's moves along its provider chain (`retouch.pipeline.chain`): pure
decisions, every branch."""

from __future__ import annotations

import pytest

from retouch.pipeline.chain import (
    NO_PROVIDER,
    ChainState,
    Fail,
    Fallback,
    Retry,
    Wait,
    after_failure,
    backoff,
    first_usable,
    poll_delay,
    skip,
)
from retouch.providers.port import (
    ProviderBusy,
    ProviderPermanent,
    ProviderRetryable,
    ProviderUnavailable,
)


def state(
    *,
    position: int = 0,
    attempt: int = 0,
    chain_length: int = 2,
    retries: int = 2,
    expired: bool = False,
) -> ChainState:
    return ChainState(
        position=position,
        attempt=attempt,
        fallbacks=(),
        chain_length=chain_length,
        retries=retries,
        expired=expired,
    )


def highest(low: float, high: float) -> float:
    return high


def test_a_permanent_error_fails_the_task_at_once() -> None:
    decision = after_failure(state(), "tencent", ProviderPermanent("content refused"))

    assert decision == Fail(code="INPUT_UNPROCESSABLE", detail="tencent: content refused")


def test_a_retryable_error_under_the_retries_retries_the_same_provider_after_a_backoff() -> None:
    decision = after_failure(state(attempt=1), "tencent", ProviderRetryable("502"))

    assert isinstance(decision, Retry)
    assert decision.attempt == 2
    assert 0 <= decision.delay_s <= 4  # full jitter up to 2 ** attempt


def test_the_backoff_is_bounded_by_two_to_the_attempt_and_a_minute() -> None:
    assert [backoff(n, highest) for n in (0, 1, 2, 3, 6, 7, 20)] == [2, 2, 4, 8, 60, 60, 60]


def test_a_busy_provider_is_asked_again_without_spending_an_attempt() -> None:
    decision = after_failure(state(attempt=2, retries=2), "tencent", ProviderBusy("full"))

    assert isinstance(decision, Wait)
    assert 0 <= decision.delay_s <= 4


def test_an_unavailable_provider_falls_back_at_once_with_a_record() -> None:
    decision = after_failure(state(), "tencent", ProviderUnavailable("no key"))

    assert decision == Fallback(
        next_position=1,
        fallbacks=({"provider": "tencent", "code": "ProviderUnavailable", "detail": "no key"},),
    )


def test_retries_spent_fall_back_to_the_next_provider() -> None:
    decision = after_failure(state(attempt=2, retries=2), "tencent", ProviderRetryable("timeout"))

    assert isinstance(decision, Fallback) and decision.next_position == 1


def test_an_expired_deadline_falls_back_even_when_busy_or_with_retries_left() -> None:
    for error in (ProviderRetryable("timeout"), ProviderBusy("full")):
        decision = after_failure(state(expired=True), "tencent", error)
        assert isinstance(decision, Fallback), error


def test_the_last_provider_failing_fails_the_task_with_the_chain_recorded() -> None:
    decision = after_failure(
        state(position=1, attempt=2, chain_length=2), "local", ProviderRetryable("crashed")
    )

    assert decision == Fail(
        code="GENERATION_FAILED",
        detail=NO_PROVIDER,
        fallbacks=({"provider": "local", "code": "ProviderRetryable", "detail": "crashed"},),
        exhausted=True,
    )


def test_zero_retries_fall_back_after_the_first_failure() -> None:
    decision = after_failure(state(retries=0), "tencent", ProviderRetryable("timeout"))

    assert isinstance(decision, Fallback)


def test_the_chain_skips_unusable_providers_and_records_why() -> None:
    reasons = {"tencent": "breaker open", "runninghub": None}

    found = first_usable(["tencent", "runninghub"], state(), reasons.__getitem__)

    assert isinstance(found, ChainState)
    assert (found.position, found.attempt) == (1, 0)
    assert found.fallbacks == (
        {"provider": "tencent", "code": "UNAVAILABLE", "detail": "breaker open"},
    )


def test_skipping_a_provider_moves_on_at_attempt_zero_and_records_why() -> None:
    moved = skip(state(attempt=2), "tencent", "breaker open")

    assert (moved.position, moved.attempt) == (1, 0)
    assert moved.fallbacks == (
        {"provider": "tencent", "code": "UNAVAILABLE", "detail": "breaker open"},
    )
    assert first_usable(["tencent"], skip(state(chain_length=1), "tencent", "open"), str) == Fail(
        code="GENERATION_FAILED",
        detail=NO_PROVIDER,
        fallbacks=({"provider": "tencent", "code": "UNAVAILABLE", "detail": "open"},),
    )


def test_the_provider_the_step_stands_at_keeps_its_attempts() -> None:
    found = first_usable(["tencent", "local"], state(attempt=1), lambda key: None)

    assert found == state(attempt=1)


def test_a_chain_with_no_usable_provider_fails() -> None:
    found = first_usable(["tencent"], state(chain_length=1), lambda key: "disabled")

    assert isinstance(found, Fail) and found.code == "GENERATION_FAILED"
    assert [f["provider"] for f in found.fallbacks] == ["tencent"]
    assert not found.exhausted


@pytest.mark.parametrize(("polls", "delay"), [(0, 1), (1, 2), (3, 8), (4, 16), (5, 20), (9, 20)])
def test_a_pending_job_is_polled_with_growing_delay_up_to_the_cap(polls: int, delay: int) -> None:
    assert poll_delay(polls, 20) == Wait(delay_s=delay)
