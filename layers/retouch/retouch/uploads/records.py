"""The internal upload record (an `uploads` row) and its statuses: a plain dataclass without
pydantic, so the step functions, which read uploads but never answer a client, do not build
the API's models (`schemas`) for them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

UploadStatus = Literal["pending", "ready", "rejected"]
# Why the check refused an upload (uploads/checks.py; `changed`: replaced after the check).
RejectReason = Literal["too_large", "too_many_pixels", "not_an_image", "type_mismatch", "changed"]


@dataclass(frozen=True, slots=True)
class Upload:
    """An `uploads` row (internal: `id` and `user_id` never leave the server)."""

    id: int
    public_id: str
    user_id: int
    object_key: str
    content_type: str
    declared_size: int
    status: UploadStatus
    width: int | None
    height: int | None
    actual_size: int | None
    #: SHA-256 (hex) of the bytes the trigger inspected; None before it did (or before 0012).
    sha256: str | None
    reject_reason: RejectReason | None
    created_at: datetime
    updated_at: datetime
