"""Upload failures (codes in retouch.core.errors.REGISTRY)."""

from __future__ import annotations

from retouch.core.errors import ValidationFailed


class UploadRefused(ValidationFailed):
    """The declared content type or size is outside what uploads accept."""
