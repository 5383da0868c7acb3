"""Failures of the storage package, each with its registry code."""

from __future__ import annotations

from retouch.core.errors import AppError, NotFound, ServiceUnavailable


class SignatureInvalid(AppError):
    """A presigned URL or temporary credential is expired, tampered with, or used for another
    object, method, content type or prefix than the one signed."""

    code = "SIGNATURE_INVALID"


class UploadTooLarge(AppError):
    """The uploaded body is larger than the size bound into its signature."""

    code = "UPLOAD_TOO_LARGE"


class ObjectNotFound(NotFound):
    """No object is stored at the key."""


class StorageUnavailable(ServiceUnavailable):
    """The object storage or its STS cannot be reached, or refuses our keys, right now: 503,
    the client retries later (the cause is logged, never answered)."""
