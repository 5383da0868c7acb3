"""`/v1/uploads`: presigned uploads, and credentials scoped to one upload's key."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path

from retouch.caller.dependencies import current_user
from retouch.core.db import get_database
from retouch.core.identity import Principal
from retouch.core.settings import get_settings
from retouch.http.routing import api_router
from retouch.storage import get_storage
from retouch.uploads import service
from retouch.uploads.schemas import (
    UploadCreate,
    UploadCredentialsRead,
    UploadRead,
    UploadTicketRead,
)

router = api_router(prefix="/v1/uploads", tags=["uploads"])

Caller = Annotated[Principal, Depends(current_user)]


@router.post("", status_code=201, response_model=UploadTicketRead)
def create_upload(request: UploadCreate, caller: Caller) -> UploadTicketRead:
    """A presigned upload of one JPEG, PNG or WebP into the caller's own prefix; the type and
    size limit are bound into the signature. The upload becomes `ready` once checked."""
    return service.create_upload(
        database=get_database(),
        storage=get_storage(),
        settings=get_settings(),
        principal=caller,
        request=request,
    )


@router.get(
    "/{upload_id}",
    response_model=UploadRead,
)
def get_upload(
    upload_id: Annotated[str, Path(max_length=64, description="an upload id (`upl_…`)")],
    caller: Caller,
) -> UploadRead:
    """One of your uploads: `pending` until the uploaded object is checked, then `ready`
    (usable as a task input) or `rejected`."""
    return service.get_upload(database=get_database(), principal=caller, upload_id=upload_id)


@router.post("/credentials", status_code=201, response_model=UploadCredentialsRead)
def create_credentials(request: UploadCreate, caller: Caller) -> UploadCredentialsRead:
    """A new upload, as `POST /v1/uploads` makes, with temporary storage credentials that can
    write its one object (an SDK's multipart upload, retries) and nothing else. The object is
    checked like any upload: the declared type by its magic bytes, at most the declared size."""
    return service.issue_credentials(
        database=get_database(),
        storage=get_storage(),
        settings=get_settings(),
        principal=caller,
        request=request,
    )
