"""Failures of the tasks domain; each maps to a registry code."""

from __future__ import annotations

from retouch.core.errors import AppError, FieldError, NotFound, ValidationFailed


class TaskNotFound(NotFound):
    """No such task, or one the caller does not own (the same answer, on purpose)."""

    def __init__(self) -> None:
        super().__init__("No such task")


class TaskNotCancelable(AppError):
    """The task already finished (succeeded or failed)."""

    code = "TASK_NOT_CANCELABLE"


class FeatureUnavailable(AppError):
    """The feature is disabled, not offered on the caller's plan, or not configured."""

    code = "FEATURE_UNAVAILABLE"


class PlanLimitReached(AppError):
    """The caller's plan allows no more tasks at once, or not inputs this large."""

    code = "PLAN_LIMIT_REACHED"


class UploadsUnusable(ValidationFailed):
    """An input names an upload the caller does not own or that is not `ready`; one
    error per field, never saying which of the two (another user's upload looks absent)."""

    def __init__(self, fields: list[str]) -> None:
        super().__init__(
            "The inputs name uploads that cannot be used",
            errors=[
                FieldError(f"inputs.{name}", "no ready upload of yours", "upload_unusable")
                for name in fields
            ],
        )
