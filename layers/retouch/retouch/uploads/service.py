"""Upload use cases: presign an upload into the caller's prefix, issue prefix-scoped
credentials, and check an object the storage says was created."""

from __future__ import annotations

import re

from retouch.catalog.schemas import UPLOAD_ID_PATTERN
from retouch.core.errors import FieldError
from retouch.core.identity import Principal
from retouch.core.ids import new_public_id
from retouch.core.logging import logger
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transactions
from retouch.images.inspection import ImageHeader, NotAnImage, inspect_image
from retouch.storage import (
    InvalidStorageKey,
    ObjectNotFound,
    Storage,
    upload_key,
    user_prefix,
    validate_key,
)
from retouch.uploads.errors import UploadNotFound, UploadRefused
from retouch.uploads.repository import UploadRepository
from retouch.uploads.schemas import (
    UploadCreate,
    UploadCredentialsRead,
    UploadRead,
    UploadTicketRead,
)

_UPLOAD_ID = re.compile(UPLOAD_ID_PATTERN)


def create_upload(
    *,
    database: Transactions,
    storage: Storage,
    settings: Settings,
    principal: Principal,
    request: UploadCreate,
    clock: Clock = utc_now,
) -> UploadTicketRead:
    """Record a `pending` upload and presign its object under the caller's own prefix, with
    the declared type and the size limit bound into the signature."""
    if request.size > settings.upload_max_bytes:
        raise UploadRefused(
            f"An upload is at most {settings.upload_max_bytes} bytes",
            errors=[FieldError("size", "too large", "less_than_equal")],
        )
    public_id = new_public_id("upl")
    key = upload_key(user_id=principal.public_id, upload_id=public_id)
    with database.unit_of_work() as uow:
        uow.repository(UploadRepository).add(
            public_id=public_id,
            user_id=principal.user.id,
            object_key=key,
            content_type=request.content_type,
            declared_size=request.size,
            now=clock(),
        )
        uow.commit()
    ticket = storage.presign_upload(
        key,
        content_type=request.content_type,
        max_bytes=settings.upload_max_bytes,
        expires_s=settings.upload_url_expires_s,
    )
    return UploadTicketRead(
        id=public_id,
        method=ticket.method,
        url=ticket.url,
        headers=dict(ticket.headers),
        fields=dict(ticket.fields),
        expires_at=ticket.expires_at,
    )


def get_upload(*, database: Transactions, principal: Principal, upload_id: str) -> UploadRead:
    """The caller's upload; UploadNotFound for anyone else's (the same answer as none)."""
    if not _UPLOAD_ID.fullmatch(upload_id):
        raise UploadNotFound
    with database.read_only() as uow:
        upload = uow.repository(UploadRepository).get_by_public_id(upload_id)
    if upload is None or upload.user_id != principal.user.id:
        raise UploadNotFound
    return UploadRead(
        id=upload.public_id,
        status=upload.status,
        content_type=upload.content_type,
        width=upload.width,
        height=upload.height,
        size=upload.actual_size,
        reject_reason=upload.reject_reason,
        created_at=upload.created_at,
    )


def issue_credentials(
    *, storage: Storage, settings: Settings, principal: Principal
) -> UploadCredentialsRead:
    """Temporary credentials that can upload under the caller's prefix only."""
    credentials = storage.temporary_credentials(
        user_prefix(principal.public_id), expires_s=settings.upload_url_expires_s
    )
    return UploadCredentialsRead(
        access_key_id=credentials.access_key_id,
        secret_access_key=credentials.secret_access_key,
        session_token=credentials.session_token,
        bucket=credentials.bucket,
        region=credentials.region,
        prefix=credentials.prefix,
        expires_at=credentials.expires_at,
    )


def check_uploaded_object(
    *, database: Transactions, storage: Storage, settings: Settings, key: str
) -> str:
    """Check the object at `key` and mark its upload `ready` or `rejected` (deleting a
    rejected object). Returns what happened; only a `pending` upload changes, so a
    redelivered event changes nothing."""
    try:
        validate_key(key)
    except InvalidStorageKey:
        logger.warning("object-created event for an invalid key", extra={"key": key[:200]})
        return "ignored"
    with database.unit_of_work() as uow:
        upload = uow.repository(UploadRepository).get_by_key(key)
    if upload is None:
        # Written with temporary credentials but never announced with POST /v1/uploads (the
        # row always commits before an upload URL exists): nothing may use it, so it goes.
        if storage.head(key) is None:
            logger.info("object-created event for no upload and no object", extra={"key": key})
            return "ignored"
        storage.delete(key)
        logger.warning("object without an upload deleted", extra={"key": key})
        return "orphan_deleted"
    if upload.status != "pending":
        logger.info("upload already checked", extra={"upload": upload.public_id})
        return "unchanged"
    info = storage.head(key)
    if info is None:
        logger.info("uploaded object is gone", extra={"upload": upload.public_id})
        return "ignored"
    # The size is checked before reading, so an oversized object is never loaded.
    if info.size > settings.upload_max_bytes:
        reason: str | ImageHeader = "too_large"
    else:
        try:
            data = storage.get(key)
        except ObjectNotFound:
            return "ignored"
        reason = _reject_reason(data, settings=settings, declared_type=upload.content_type)
    with database.unit_of_work() as uow:
        uploads = uow.repository(UploadRepository)
        if isinstance(reason, str):
            changed = uploads.mark_rejected(upload.id, reason=reason, actual_size=info.size)
        else:
            changed = uploads.mark_ready(
                upload.id, width=reason.width, height=reason.height, actual_size=info.size
            )
        uow.commit()
    if not changed:
        return "unchanged"
    if isinstance(reason, str):
        storage.delete(key)
        logger.info("upload rejected", extra={"upload": upload.public_id, "reason": reason})
        return "rejected"
    logger.info("upload ready", extra={"upload": upload.public_id})
    return "ready"


def _reject_reason(data: bytes, *, settings: Settings, declared_type: str) -> str | ImageHeader:
    try:
        header = inspect_image(data)
    except NotAnImage:
        return "not_an_image"
    if header.content_type != declared_type:
        return "type_mismatch"
    if header.pixels > settings.upload_max_pixels:
        return "too_many_pixels"
    return header
