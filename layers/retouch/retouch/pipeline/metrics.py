"""Business metrics of the engine, one EMF line each (Powertools `single_metric`, flushed at
once: a queue consumer has no per-request flush like the HTTP middleware's)."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from retouch.core.logging import SERVICE

NAMESPACE = "Retouch"


def count_finished(*, feature: str, status: str, credits: int, provider: str | None = None) -> None:
    """One task ended: `TasksFinished` by feature and status (and by the provider that served
    it, for a success), and the credits it charged (on success: `CreditsCharged`) or returned
    (`CreditsReturned`), by feature."""
    if provider:
        _emit("TasksFinished", 1, feature=feature, status=status, provider=provider)
    else:
        _emit("TasksFinished", 1, feature=feature, status=status)
    if credits:
        name = "CreditsCharged" if status == "succeeded" else "CreditsReturned"
        _emit(name, credits, feature=feature)


def count_fallback(*, provider: str, reason: str) -> None:
    """The chain moved past `provider` (`UNAVAILABLE`, `BAD_RESULT`, or the error's class)."""
    _emit("ProviderFallbacks", 1, provider=provider, reason=reason)


def count_provider_job(*, provider: str, ok: bool, latency_ms: float | None) -> None:
    """A vendor job ended: `ProviderJobs` by provider and outcome (`succeeded`, `failed`),
    and its `ProviderLatency` (submit to result) by provider."""
    _emit("ProviderJobs", 1, provider=provider, outcome="succeeded" if ok else "failed")
    if latency_ms is not None:
        _emit("ProviderLatency", latency_ms, unit=MetricUnit.Milliseconds, provider=provider)


def count_breaker_opened(*, provider: str) -> None:
    """The provider's breaker opened: `ProviderBreakerOpened` by provider (alarm on it)."""
    _emit("ProviderBreakerOpened", 1, provider=provider)


def _emit(
    name: str, value: float, *, unit: MetricUnit = MetricUnit.Count, **dimensions: str
) -> None:
    with single_metric(name=name, unit=unit, value=value, namespace=NAMESPACE) as one:
        one.add_dimension(name="service", value=SERVICE)
        for key, dimension in dimensions.items():
            one.add_dimension(name=key, value=dimension)
