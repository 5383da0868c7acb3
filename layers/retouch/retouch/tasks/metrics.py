"""Business metrics of tasks."""

from __future__ import annotations

from retouch.core.metrics import emit

#: Tasks that ended, by feature and status (and provider); also by status alone, the rollup
#: the task failure rate alarm divides (template.yaml `TaskFailureRateAlarm`).
TASKS_FINISHED = "TasksFinished"


def count_finished(*, feature: str, status: str, credits: int, provider: str | None = None) -> None:
    """One task ended: `TasksFinished` by feature and status (and by the provider that served
    it, for a success), and by status alone (the alarm's rollup); and the credits it charged
    (on success: `CreditsCharged`) or returned (`CreditsReturned`), by feature."""
    if provider:
        emit(TASKS_FINISHED, 1, feature=feature, status=status, provider=provider)
    else:
        emit(TASKS_FINISHED, 1, feature=feature, status=status)
    emit(TASKS_FINISHED, 1, status=status)
    if credits:
        name = "CreditsCharged" if status == "succeeded" else "CreditsReturned"
        emit(name, credits, feature=feature)
