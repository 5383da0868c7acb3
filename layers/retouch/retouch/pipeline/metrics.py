"""Business metrics of the engine's provider chain."""

from __future__ import annotations

from retouch.core.metrics import emit


def count_fallback(*, provider: str, reason: str) -> None:
    """The chain moved past `provider` (`UNAVAILABLE`, `BAD_RESULT`, or the error's class)."""
    emit("ProviderFallbacks", 1, provider=provider, reason=reason)
