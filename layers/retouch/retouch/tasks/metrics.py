"""Business metrics of tasks."""

from __future__ import annotations

from retouch.core.metrics import emit


def count_finished(*, feature: str, status: str, credits: int, provider: str | None = None) -> None:
    """One task ended: `TasksFinished` by feature and status (and by the provider that served
    it, for a success), and the credits it charged (on success: `CreditsCharged`) or returned
    (`CreditsReturned`), by feature."""
    if provider:
        emit("TasksFinished", 1, feature=feature, status=status, provider=provider)
    else:
        emit("TasksFinished", 1, feature=feature, status=status)
    if credits:
        name = "CreditsCharged" if status == "succeeded" else "CreditsReturned"
        emit(name, credits, feature=feature)
