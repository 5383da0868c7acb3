"""Business metrics of the vendors: jobs, latency and breakers."""

from __future__ import annotations

from retouch.core.metrics import MetricUnit, emit

#: A breaker opened, by provider and in total (the rollup template.yaml's
#: `ProviderBreakerOpenedAlarm` watches, whichever vendor it was).
BREAKER_OPENED = "ProviderBreakerOpened"


def count_provider_job(*, provider: str, ok: bool, latency_ms: float | None) -> None:
    """A vendor job ended: `ProviderJobs` by provider and outcome (`succeeded`, `failed`),
    and its `ProviderLatency` (submit to result) by provider."""
    emit("ProviderJobs", 1, provider=provider, outcome="succeeded" if ok else "failed")
    if latency_ms is not None:
        emit("ProviderLatency", latency_ms, unit=MetricUnit.Milliseconds, provider=provider)


def count_breaker_opened(*, provider: str) -> None:
    """The provider's breaker opened: `ProviderBreakerOpened` by provider, and without the
    provider for the alarm."""
    emit(BREAKER_OPENED, 1, provider=provider)
    emit(BREAKER_OPENED, 1)
