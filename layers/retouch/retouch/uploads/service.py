"""Upload use cases: presign an upload into the caller's prefix, or issue temporary
credentials for one upload's key, and read an upload. The check of what arrived is the
trigger's (`checks`)."""

from __future__ import annotations

import re

from retouch.catalog.schemas import UPLOAD_ID_PATTERN
from retouch.core.errors import FieldError
from retouch.core.identity import Principal
from retouch.core.ids import new_public_id
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transactions
from retouch.storage import Storage, upload_key
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
    the declared type and size bound into the signature (a larger body is refused)."""
    public_id, key = _new_upload(database, settings, principal, request, clock=clock)
    ticket = storage.presign_upload(
        key,
        content_type=request.content_type,
        max_bytes=request.size,
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


def _new_upload(
    database: Transactions,
    settings: Settings,
    principal: Principal,
    request: UploadCreate,
    *,
    clock: Clock,
) -> tuple[str, str]:
    """Record a `pending` upload of the caller's (committed before any URL or credential for
    its key exists); its public id and key."""
    if request.size > settings.upload_max_bytes:
        raise UploadRefused(
            "An upload is at most {max_bytes} bytes",
            errors=[FieldError("size", "too large", "less_than_equal")],
            max_bytes=settings.upload_max_bytes,
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
    return public_id, key


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
    *,
    database: Transactions,
    storage: Storage,
    settings: Settings,
    principal: Principal,
    request: UploadCreate,
    clock: Clock = utc_now,
) -> UploadCredentialsRead:
    """Record a `pending` upload, as `create_upload` does, and temporary credentials that can
    write its one key and nothing else. STS binds no size or type: the trigger holds the
    object to the declared ones, and `prepare` reads only the bytes it inspected."""
    public_id, key = _new_upload(database, settings, principal, request, clock=clock)
    credentials = storage.temporary_credentials(key, expires_s=settings.upload_url_expires_s)
    return UploadCredentialsRead(
        id=public_id,
        key=credentials.key,
        access_key_id=credentials.access_key_id,
        secret_access_key=credentials.secret_access_key,
        session_token=credentials.session_token,
        bucket=credentials.bucket,
        region=credentials.region,
        expires_at=credentials.expires_at,
    )
