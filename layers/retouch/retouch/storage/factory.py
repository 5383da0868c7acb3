"""The storage adapter of this process, built from settings on first use."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from retouch.core.settings import Settings, get_settings, get_tencent_cloud_keys
from retouch.storage.local import LocalStorage, ObjectCreatedHook
from retouch.storage.port import Storage
from retouch.storage.signing import Signer


def local_storage(
    settings: Settings, *, on_object_created: ObjectCreatedHook | None = None
) -> LocalStorage:
    """The local adapter configured by `RETOUCH_STORAGE_LOCAL_*`."""
    return LocalStorage(
        root=Path(settings.storage_local_root),
        base_url=settings.storage_local_base_url,
        signer=Signer(settings.storage_local_signing_key.get_secret_value().encode()),
        on_object_created=on_object_created,
    )


@cache
def get_storage() -> Storage:
    """The process's storage, chosen by `RETOUCH_STORAGE_BACKEND`. Building it connects to
    nothing; the cloud adapters import their SDK on their first call."""
    settings = get_settings()
    if settings.storage_backend == "cos":
        from retouch.storage.cos import CosStorage

        return CosStorage(
            bucket=settings.storage_bucket,
            region=settings.storage_region,
            keys=get_tencent_cloud_keys(),
            endpoint_url=settings.storage_endpoint_url,
            sts_endpoint_url=settings.storage_sts_endpoint_url,
            upload_role_arn=settings.storage_upload_role_arn,
        )
    if settings.storage_backend == "s3":
        from retouch.storage.s3 import S3Storage

        return S3Storage(
            bucket=settings.storage_bucket,
            region=settings.storage_region,
            upload_role_arn=settings.storage_upload_role_arn,
            endpoint_url=settings.storage_endpoint_url,
            sts_endpoint_url=settings.storage_sts_endpoint_url,
        )
    return local_storage(settings)
