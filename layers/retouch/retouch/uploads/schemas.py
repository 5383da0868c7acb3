"""Upload DTOs and the internal upload record."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

#: The image types an upload may declare; the trigger checks each one's magic bytes.
UploadContentType = Literal["image/jpeg", "image/png", "image/webp"]
UploadStatus = Literal["pending", "ready", "rejected"]


class UploadCreate(BaseModel):
    """`POST /v1/uploads`: what the client is about to send."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content_type: UploadContentType
    size: int = Field(ge=1, description="bytes; at most RETOUCH_UPLOAD_MAX_BYTES")


class UploadTicketRead(BaseModel):
    """A presigned upload: send `method` to `url` with exactly `headers` before `expires_at`;
    for a POST (S3, COS), a multipart form of `fields` followed by the file as `file`."""

    model_config = ConfigDict(frozen=True)

    id: str
    method: str
    url: str
    headers: Mapping[str, str]
    fields: Mapping[str, str] = Field(
        default_factory=dict, description="form fields of a POST upload, sent before the file"
    )
    expires_at: datetime


class UploadCredentialsRead(BaseModel):
    """Temporary storage credentials that can upload under `prefix` and nowhere else."""

    model_config = ConfigDict(frozen=True)

    access_key_id: str
    secret_access_key: str
    session_token: str
    bucket: str
    region: str
    prefix: str
    expires_at: datetime


class UploadRead(BaseModel):
    """An upload as its owner sees it: `pending` until the object is checked, then `ready`
    (with its real dimensions) or `rejected` (with why)."""

    model_config = ConfigDict(frozen=True)

    id: str
    status: UploadStatus
    content_type: str
    width: int | None
    height: int | None
    size: int | None = Field(description="bytes stored, once checked")
    reject_reason: str | None
    created_at: datetime


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
    reject_reason: str | None
    created_at: datetime
    updated_at: datetime
