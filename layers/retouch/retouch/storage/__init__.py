"""Object storage behind one port (presigned upload and download, put, get, head, delete,
temporary credentials), with the `local`, `cos` and `s3` adapters (the cloud SDKs are imported
by an adapter's first call, never by importing this package).

from retouch.storage import get_storage, upload_key
"""

from typing import TYPE_CHECKING

from retouch.core.lazy import lazy_exports
from retouch.storage.errors import (
    ObjectNotFound,
    ObjectTooLarge,
    SignatureInvalid,
    UploadTooLarge,
)
from retouch.storage.events import (
    CreatedObject,
    MalformedStorageEvent,
    cos_object_created_event,
    parse_object_created,
)
from retouch.storage.factory import get_storage, local_storage
from retouch.storage.keys import (
    InvalidStorageKey,
    output_key,
    upload_key,
    user_prefix,
    validate_key,
    validate_prefix,
    work_key,
)
from retouch.storage.local import LocalStorage
from retouch.storage.port import Credentials, ObjectInfo, Storage, UploadTicket
from retouch.storage.signing import Signer

if TYPE_CHECKING:  # the cloud adapters, imported on first access (`__getattr__`)
    from retouch.storage.cos import CosStorage
    from retouch.storage.s3 import S3Storage

# A process uses one backend: the other adapters' modules stay off its cold start.
__getattr__ = lazy_exports(
    globals(), {"CosStorage": "retouch.storage.cos", "S3Storage": "retouch.storage.s3"}
)

__all__ = [
    "CosStorage",
    "CreatedObject",
    "Credentials",
    "InvalidStorageKey",
    "LocalStorage",
    "MalformedStorageEvent",
    "ObjectInfo",
    "ObjectNotFound",
    "ObjectTooLarge",
    "S3Storage",
    "SignatureInvalid",
    "Signer",
    "Storage",
    "UploadTicket",
    "UploadTooLarge",
    "cos_object_created_event",
    "get_storage",
    "local_storage",
    "output_key",
    "parse_object_created",
    "upload_key",
    "user_prefix",
    "validate_key",
    "validate_prefix",
    "work_key",
]
