"""Failures of an Idempotency-Key; each maps to a registry code (`core.errors`)."""

from __future__ import annotations

from retouch.core.errors import AppError, FieldError, ValidationFailed


class IdempotencyKeyInUse(AppError):
    """A request with the same key is still running (or took the key over from ours)."""

    code = "IDEMPOTENCY_KEY_IN_USE"

    def __init__(self, *, operation: str) -> None:
        super().__init__(
            "A request with this Idempotency-Key is still in progress", operation=operation
        )


class IdempotencyKeyReused(AppError):
    """The key was first sent with a different body."""

    code = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self, *, operation: str) -> None:
        super().__init__(
            "This Idempotency-Key was used for a different request", operation=operation
        )


class IdempotencyKeyInvalid(ValidationFailed):
    """The header is empty, too long or not printable ASCII."""

    def __init__(self) -> None:
        super().__init__(
            "The Idempotency-Key header is invalid",
            errors=[
                FieldError(
                    "header.idempotency-key", "1-255 printable ASCII characters", "key_invalid"
                )
            ],
        )
