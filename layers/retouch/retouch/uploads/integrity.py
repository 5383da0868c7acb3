"""What was inspected is what the pipeline reads (DESIGN §6). The upload trigger records the
size and SHA-256 of the bytes it inspected (`fingerprint`); `read_inspected` gives `prepare`
an upload's bytes only when they are those bytes, whatever was written to the key since (a
second PUT to a still-valid URL, a write with the upload's temporary credentials).

The step functions import this module: it stays light (no pydantic, no storage SDK).
"""

from __future__ import annotations

import hashlib

from retouch.storage import ObjectNotFound, ObjectTooLarge, Storage
from retouch.uploads.records import Upload

#: `reject_reason` of a ready upload whose object was replaced after it was inspected.
CHANGED = "changed"


class UploadChanged(ValueError):
    """The upload's object is gone or is no longer the one inspected: nothing may decode it
    (`prepare` rejects the upload and fails the task with INPUT_UNPROCESSABLE)."""

    def __init__(self, upload: Upload, reason: str) -> None:
        super().__init__(f"upload {upload.public_id} {reason}")
        self.upload = upload


def fingerprint(data: bytes) -> str:
    """The SHA-256 (hex) the trigger records of the bytes it inspected."""
    return hashlib.sha256(data).hexdigest()


def read_inspected(storage: Storage, upload: Upload) -> bytes:
    """The bytes of a ready upload, provided they are the ones inspected; UploadChanged
    otherwise. The stored size is compared first (`head`), so a replacement of another size,
    however large, is never read; the read itself stops one byte past the size inspected, so
    a larger replacement between the two calls is not loaded either; the SHA-256 of what was
    read is compared last.

    An upload checked before its fingerprint was recorded (sha256 None, migration 0012) is
    read as it is: the caller inspects its header before decoding it, as for any input."""
    info = storage.head(upload.object_key)
    if info is None:
        raise UploadChanged(upload, "is gone")
    if upload.sha256 is not None and info.size != upload.actual_size:
        raise UploadChanged(upload, "changed size since it was inspected")
    inspected_size = upload.actual_size if upload.sha256 is not None else None
    try:
        data = storage.get(upload.object_key, max_bytes=inspected_size)
    except ObjectNotFound:
        raise UploadChanged(upload, "is gone") from None
    except ObjectTooLarge:
        raise UploadChanged(upload, "grew since it was inspected") from None
    if upload.sha256 is not None and fingerprint(data) != upload.sha256:
        raise UploadChanged(upload, "changed since it was inspected")
    return data
