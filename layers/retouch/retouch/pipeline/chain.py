"""How the `generate` step moves along its provider chain (DESIGN §5, §6): pure decisions,
no I/O. The step applies them (`generate.py`) in its own unit of work.

After a provider's failure (`after_failure`):
- a permanent error (bad input, content refused) fails the task at once (`Fail`);
- past the step's deadline, the next provider gets the job (`Fallback`);
- a busy provider (its concurrency is full) is asked again after a backoff without spending
  an attempt (`Wait`);
- a retryable error retries the same provider after a backoff while attempts remain
  (`Retry`); an unavailable provider (key, account, configuration) is never retried;
- otherwise the next provider (`Fallback`, recorded), and after the last one, `Fail`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from retouch.providers.port import (
    ProviderBusy,
    ProviderError,
    ProviderPermanent,
    ProviderUnavailable,
)

#: Why a provider of the chain cannot take a job now (None: it can).
Unusable = Callable[[str], str | None]
Jitter = Callable[[float, float], float]
NO_PROVIDER = "no provider of the chain is available"


@dataclass(frozen=True, slots=True)
class Retry:
    """Ask the same provider again after `delay_s`, as attempt number `attempt`."""

    delay_s: float
    attempt: int


@dataclass(frozen=True, slots=True)
class Wait:
    """Ask the same provider again after `delay_s`; no attempt is spent (busy, or a job still
    pending)."""

    delay_s: float


@dataclass(frozen=True, slots=True)
class Fallback:
    """Move on to the provider at `next_position`; `fallbacks` records why, provider by
    provider."""

    next_position: int
    fallbacks: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class Fail:
    """End the step and the task as failed with registry `code`; `exhausted`: the chain ran
    out of providers (the last one's failure is recorded in `fallbacks`)."""

    code: str
    detail: str
    fallbacks: tuple[dict[str, Any], ...] = ()
    exhausted: bool = False


Decision = Retry | Wait | Fallback | Fail


@dataclass(frozen=True, slots=True)
class ChainState:
    """Where a `generate` step stands: the provider it is at, its attempts there, what the
    chain skipped so far, the chain's length, the step's `retries` and whether its deadline
    passed."""

    position: int
    attempt: int
    fallbacks: tuple[dict[str, Any], ...]
    chain_length: int
    retries: int
    expired: bool


def after_failure(
    state: ChainState, key: str, error: ProviderError, *, jitter: Jitter = random.uniform
) -> Retry | Wait | Fallback | Fail:
    """What the step does after provider `key` failed with `error` (see the module)."""
    if isinstance(error, ProviderPermanent):
        return Fail(code="INPUT_UNPROCESSABLE", detail=f"{key}: {error.detail}")
    if not state.expired:
        if isinstance(error, ProviderBusy):
            return Wait(delay_s=backoff(state.attempt, jitter))
        # The vendor cannot serve us (key, account, configuration): no retry can help here.
        if not isinstance(error, ProviderUnavailable) and state.attempt < state.retries:
            return Retry(delay_s=backoff(state.attempt + 1, jitter), attempt=state.attempt + 1)
    record = {"provider": key, "code": type(error).__name__, "detail": error.detail[:200]}
    fallbacks = (*state.fallbacks, record)
    if state.position + 1 >= state.chain_length:
        return Fail(
            code="GENERATION_FAILED", detail=NO_PROVIDER, fallbacks=fallbacks, exhausted=True
        )
    return Fallback(next_position=state.position + 1, fallbacks=fallbacks)


def first_usable(chain: Sequence[str], state: ChainState, unusable: Unusable) -> ChainState | Fail:
    """The step at the first provider from `state.position` on that can take a job (a new
    provider starts at attempt 0), with the chain's record of those skipped
    (`UNAVAILABLE`); Fail when none can."""
    fallbacks = list(state.fallbacks)
    for position in range(state.position, len(chain)):
        reason = unusable(chain[position])
        if reason is None:
            attempt = state.attempt if position == state.position else 0
            return replace(state, position=position, attempt=attempt, fallbacks=tuple(fallbacks))
        fallbacks.append(_unavailable(chain[position], reason))
    return Fail(code="GENERATION_FAILED", detail=NO_PROVIDER, fallbacks=tuple(fallbacks))


def skip(state: ChainState, key: str, reason: str) -> ChainState:
    """The step moved past provider `key` at `state.position`, which cannot take the job
    (`reason`), as `first_usable` records a provider it skips."""
    fallbacks = (*state.fallbacks, _unavailable(key, reason))
    return replace(state, position=state.position + 1, attempt=0, fallbacks=fallbacks)


def _unavailable(key: str, reason: str) -> dict[str, str]:
    """The chain's record of provider `key` skipped: it cannot take a job (`reason`)."""
    return {"provider": key, "code": "UNAVAILABLE", "detail": reason}


def backoff(attempt: int, jitter: Jitter = random.uniform) -> float:
    """Exponential backoff with full jitter: up to 2, 4, 8… seconds, at most 60."""
    return jitter(0, min(60.0, 2.0 ** max(attempt, 1)))


def poll_delay(polls: int, max_delay_s: float) -> Wait:
    """How long a pending job waits for its next poll: 1, 2, 4… seconds, at most the cap."""
    return Wait(delay_s=min(2 ** min(polls, 5), max_delay_s))
