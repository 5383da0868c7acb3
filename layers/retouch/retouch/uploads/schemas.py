"""Upload DTOs (the internal record is in `records.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import Field

from retouch.core.schemas import RequestSchema, Schema
from retouch.core.settings import Settings
from retouch.uploads.records import RejectReason, UploadStatus

#: The image types an upload may declare; the trigger checks each one's magic bytes.
UploadContentType = Literal["image/jpeg", "image/png", "image/webp"]


class UploadCreate(RequestSchema):
    """`POST /v1/uploads`: what the client is about to send."""

    content_type: UploadContentType
    size: int = Field(
        ge=1,
        description="bytes; at most RETOUCH_UPLOAD_MAX_BYTES (the `maximum` is its default)",
        json_schema_extra={"maximum": Settings.model_fields["upload_max_bytes"].default},
    )


class UploadTicketRead(Schema):
    """A presigned upload: send `method` to `url` with exactly `headers` before `expires_at`;
    for a POST (S3, COS), a multipart form of `fields` followed by the file as `file`. The
    signature binds the declared type and size: a larger body is refused."""

    id: str
    method: str
    url: str
    headers: Mapping[str, str]
    fields: Mapping[str, str] = Field(
        default_factory=dict, description="form fields of a POST upload, sent before the file"
    )
    expires_at: datetime


class UploadCredentialsRead(Schema):
    """Temporary storage credentials that can write one object, `key`, of upload `id` and
    nothing else, until `expires_at`. The object is checked as a presigned upload's is: at
    most the declared size, the declared type by its magic bytes."""

    id: str
    key: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    bucket: str
    region: str
    expires_at: datetime


class UploadRead(Schema):
    """An upload as its owner sees it: `pending` until the object is checked, then `ready`
    (with its real dimensions) or `rejected` (with why)."""

    id: str
    status: UploadStatus
    content_type: str
    width: int | None
    height: int | None
    size: int | None = Field(description="bytes stored, once checked")
    reject_reason: RejectReason | None
    created_at: datetime
