"""`Storage` in memory, keeping the port's rules: every key checked by `storage.keys` before
anything happens, a missing object is ObjectNotFound on `get` and None on `head`, deleting
a missing object is no error. Presigned URLs are plain strings naming key and expiry (no
signature: nothing reads them back)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from retouch.storage import Credentials, ObjectInfo, UploadTicket, validate_key
from retouch.storage.errors import ObjectNotFound, within

#: When the fake says objects were written and URLs expire from.
STORED_AT = datetime(2030, 1, 1, tzinfo=timezone.utc)


class MemoryStorage:
    def __init__(self) -> None:
        self.objects: dict[str, tuple[bytes, str]] = {}
        self.deleted: list[str] = []

    def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires_s: int
    ) -> UploadTicket:
        return UploadTicket(
            method="PUT",
            url=f"memory://{validate_key(key)}?upload&expires_s={expires_s}",
            headers={"Content-Type": content_type},
            expires_at=STORED_AT + timedelta(seconds=expires_s),
        )

    def presign_download(self, key: str, *, expires_s: int) -> str:
        return f"memory://{validate_key(key)}?expires_s={expires_s}"

    def put(self, key: str, data: bytes, content_type: str) -> None:
        self.objects[validate_key(key)] = (bytes(data), content_type)

    def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        try:
            data = self.objects[validate_key(key)][0]
        except KeyError:
            raise ObjectNotFound("No object is stored at the key") from None
        return within(data, max_bytes)

    def head(self, key: str) -> ObjectInfo | None:
        found = self.objects.get(validate_key(key))
        if found is None:
            return None
        data, content_type = found
        etag = hashlib.md5(data, usedforsecurity=False).hexdigest()
        return ObjectInfo(key, len(data), content_type, etag, STORED_AT)

    def delete(self, key: str) -> None:
        self.objects.pop(validate_key(key), None)
        self.deleted.append(key)

    def temporary_credentials(self, key: str, *, expires_s: int) -> Credentials:
        return Credentials(
            access_key_id="memory",
            secret_access_key="memory",
            session_token="memory",
            key=validate_key(key),
            bucket="memory",
            region="memory",
            expires_at=STORED_AT + timedelta(seconds=expires_s),
        )

    def keys(self, prefix: str) -> list[str]:
        """The stored keys under `prefix`, sorted (for assertions)."""
        return sorted(key for key in self.objects if key.startswith(prefix))
