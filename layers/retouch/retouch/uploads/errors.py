"""Upload failures (codes in retouch.core.errors.REGISTRY)."""

from __future__ import annotations

from retouch.core.errors import NotFound, ValidationFailed


class UploadRefused(ValidationFailed):
    """The declared content type or size is outside what uploads accept."""


class UploadNotFound(NotFound):
    """No such upload, or one the caller does not own (the same answer, on purpose)."""

    def __init__(self) -> None:
        super().__init__("No such upload")
