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


class ObjectTooLarge(ValueError):
    """The object holds more than the `max_bytes` a `get` allowed (it was not read whole)."""


def within(data: bytes, max_bytes: int | None) -> bytes:
    """`data`, read with `read(max_bytes + 1)`, when it is at most `max_bytes` long."""
    if max_bytes is not None and len(data) > max_bytes:
        raise ObjectTooLarge(f"more than {max_bytes} bytes")
    return data


def read_size(max_bytes: int | None) -> int | None:
    """What to ask a stream's `read` for: one byte past the bound tells a longer object."""
    return None if max_bytes is None else max_bytes + 1


class StorageUnavailable(ServiceUnavailable):
    """The object storage or its STS cannot be reached, or refuses our keys, right now: 503,
    the client retries later (the cause is logged, never answered)."""
