"""The upload trigger's check of an object the storage says was created (COS/S3 object-created
event, the local gateway's hook).

A `pending` upload's object is read once, its header inspected (type by magic bytes, pixel
cap, nothing decoded) and its size held to what was declared; the upload becomes `ready` with
the size and SHA-256 of exactly the bytes inspected, or `rejected` (the object deleted). Any
later event for a `ready` upload re-checks the object against that record: a replaced object
(a second PUT to a still-valid URL, a write with the upload's credentials) rejects the upload
as `changed` and is deleted. `prepare` verifies the same record before it decodes anything
(`integrity.read_inspected`), so an event that arrives late or never changes nothing it reads.
"""

from __future__ import annotations

from retouch.core.logging import logger
from retouch.core.settings import Settings
from retouch.core.units import Transactions
from retouch.images.inspection import ImageHeader, NotAnImage, TooManyPixels, inspect_within
from retouch.storage import (
    InvalidStorageKey,
    ObjectInfo,
    ObjectNotFound,
    ObjectTooLarge,
    Storage,
    validate_key,
)
from retouch.uploads.integrity import fingerprint
from retouch.uploads.records import Upload
from retouch.uploads.repository import UploadRepository

UPLOADS_ROOT = "uploads/"


def check_uploaded_object(
    *, database: Transactions, storage: Storage, settings: Settings, key: str
) -> str:
    """Check the object at `key` against its upload. Returns what happened (for the logs and
    tests): `ready`, `rejected`, `unchanged` (a redelivered event, an object that is still
    the one inspected), `orphan_deleted` or `ignored`."""
    try:
        validate_key(key)
    except InvalidStorageKey:
        logger.warning("object-created event for an invalid key", extra={"key": key[:200]})
        return "ignored"
    if not key.startswith(UPLOADS_ROOT):  # outputs and work files are ours, never uploads
        return "ignored"
    with database.read_only() as uow:
        upload = uow.repository(UploadRepository).get_by_key(key)
    info = storage.head(key)
    if upload is None:
        # Not announced with POST /v1/uploads (the row always commits before an upload URL
        # or credential exists): nothing may use it, so it goes.
        if info is None:
            logger.info("object-created event for no upload and no object", extra={"key": key})
            return "ignored"
        storage.delete(key)
        logger.warning("object without an upload deleted", extra={"key": key})
        return "orphan_deleted"
    if upload.status == "rejected":
        storage.delete(key)  # a new object under a rejected upload is never read: it goes
        return "unchanged"
    if info is None:
        logger.info("uploaded object is gone", extra={"upload": upload.public_id})
        return "ignored"
    if upload.status == "ready":
        return _recheck(database, storage, upload, info)
    return _first_check(database, storage, settings, upload, info)


def _first_check(
    database: Transactions, storage: Storage, settings: Settings, upload: Upload, info: ObjectInfo
) -> str:
    """A pending upload: read the object once, decide on exactly those bytes."""
    limit = min(upload.declared_size, settings.upload_max_bytes)
    data: bytes | None = None
    verdict: str | ImageHeader = "too_large"
    size = info.size
    # The size is checked before reading, and the read stops one byte past the limit (the
    # object may be replaced after `head`), so an oversized object is never loaded.
    if info.size <= limit:
        try:
            data = storage.get(upload.object_key, max_bytes=limit)
        except ObjectNotFound:
            return "ignored"
        except ObjectTooLarge:
            size = limit + 1  # at least: it was not read further
        else:
            size = len(data)
            verdict = _verdict(
                data, limit=limit, settings=settings, declared_type=upload.content_type
            )
    with database.unit_of_work() as uow:
        uploads = uow.repository(UploadRepository)
        if isinstance(verdict, str):
            moved = uploads.mark_rejected(upload.id, reason=verdict, actual_size=size)
        else:
            moved = uploads.mark_ready(
                upload.id,
                width=verdict.width,
                height=verdict.height,
                actual_size=size,
                sha256=fingerprint(data or b""),
            )
        uow.commit()
    if not moved:
        # Another event decided first (two writes in quick succession): what we read must
        # still be what it accepted.
        return _settled_elsewhere(database, storage, upload.object_key, data)
    if isinstance(verdict, str):
        storage.delete(upload.object_key)
        logger.info("upload rejected", extra={"upload": upload.public_id, "reason": verdict})
        return "rejected"
    logger.info("upload ready", extra={"upload": upload.public_id})
    return "ready"


def _settled_elsewhere(
    database: Transactions, storage: Storage, key: str, data: bytes | None
) -> str:
    with database.read_only() as uow:
        upload = uow.repository(UploadRepository).get_by_key(key)
    if upload is None or upload.status != "ready":
        return "unchanged"
    if data is not None and fingerprint(data) == upload.sha256:
        return "unchanged"
    return _reject_changed(database, storage, upload)


def _recheck(database: Transactions, storage: Storage, upload: Upload, info: ObjectInfo) -> str:
    """A ready upload: unchanged when the object is still the bytes inspected (same size,
    same SHA-256; another size is never read), else the upload is rejected."""
    if info.size == upload.actual_size:
        try:
            data = storage.get(upload.object_key, max_bytes=upload.actual_size)
        except ObjectNotFound:
            return "ignored"
        except ObjectTooLarge:
            return _reject_changed(database, storage, upload)
        if upload.sha256 is None or fingerprint(data) == upload.sha256:
            return "unchanged"
    return _reject_changed(database, storage, upload)


def _reject_changed(database: Transactions, storage: Storage, upload: Upload) -> str:
    with database.unit_of_work() as uow:
        uow.repository(UploadRepository).mark_changed(upload.id)
        uow.commit()
    storage.delete(upload.object_key)
    logger.warning("upload replaced after inspection: rejected", extra={"upload": upload.public_id})
    return "rejected"


def _verdict(
    data: bytes, *, limit: int, settings: Settings, declared_type: str
) -> str | ImageHeader:
    """Why `data` is refused (a `reject_reason`), or its header when it is accepted."""
    if len(data) > limit:  # replaced by a larger object between `head` and `get`
        return "too_large"
    try:
        header = inspect_within(data, max_pixels=settings.upload_max_pixels)
    except TooManyPixels:
        return "too_many_pixels"
    except NotAnImage:
        return "not_an_image"
    if header.content_type != declared_type:
        return "type_mismatch"
    return header
