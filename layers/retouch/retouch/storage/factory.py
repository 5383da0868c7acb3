"""The storage adapter of this process, built from settings on first use."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from retouch.core.settings import Settings, get_settings
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
    """The process's storage; only `local` exists until the `cos` and `s3` adapters arrive."""
    return local_storage(get_settings())
