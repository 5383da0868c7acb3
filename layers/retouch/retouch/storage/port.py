"""The storage port: what every adapter (`local`, `cos`, `s3`) offers.

Services take a `Storage`; nothing above this package knows which adapter runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UploadTicket:
    """A presigned upload: send `method` to `url` with exactly `headers` (and, for the form
    POST of S3 and COS, `fields` before the file). The content type and the largest size
    allowed are bound into the signature, so the client cannot change them."""

    method: str
    url: str
    headers: Mapping[str, str]
    expires_at: datetime
    fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    """What `head` knows about a stored object."""

    key: str
    size: int
    content_type: str
    etag: str
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class Credentials:
    """Temporary credentials allowing uploads to one object, `key`, only, until `expires_at`
    (COS/STS: tmpSecretId, tmpSecretKey, sessionToken). STS policies can name one key but
    bind no size or type: whoever issues them checks the object that arrives."""

    access_key_id: str
    secret_access_key: str
    session_token: str
    key: str
    bucket: str
    region: str
    expires_at: datetime


class Storage(Protocol):
    """One object store. Every key is checked by `retouch.storage.keys` before any I/O."""

    def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires_s: int
    ) -> UploadTicket:
        """A URL that accepts one upload of `content_type`, at most `max_bytes`, to `key`."""
        ...

    def presign_download(self, key: str, *, expires_s: int) -> str:
        """A URL that reads `key` until it expires."""
        ...

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` at `key`, replacing any object there; readers see all of it or none."""
        ...

    def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        """The object's bytes; ObjectNotFound when there is none. With `max_bytes`, at most
        `max_bytes + 1` bytes are read and an object longer than `max_bytes` is ObjectTooLarge
        (whatever `head` said a moment before: the object may have been replaced since)."""
        ...

    def head(self, key: str) -> ObjectInfo | None:
        """The object's size and type, or None when there is none."""
        ...

    def delete(self, key: str) -> None:
        """Remove the object; deleting a missing object is not an error."""
        ...

    def temporary_credentials(self, key: str, *, expires_s: int) -> Credentials:
        """Credentials that can upload to `key` and nowhere else."""
        ...
