"""The `local` adapter: objects as files under a root folder, served by the local gateway with
HMAC-signed URLs, and a COS-shaped object-created event after every write (as the cloud sends
one to the upload trigger).

Layout: `<root>/<key>` holds the bytes, `<root>/.meta/<key>.json` the content type and ETag.
Keys never have a segment starting with `.`, so `.meta` and the `.<name>.tmp-*` files of a
write in progress can never be read as objects.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from retouch.core.time import from_epoch
from retouch.storage.errors import ObjectNotFound, read_size, within
from retouch.storage.events import cos_object_created_event
from retouch.storage.keys import validate_key
from retouch.storage.port import Credentials, ObjectInfo, UploadTicket
from retouch.storage.signing import SECURITY_TOKEN, SignedRequest, Signer

#: The bucket, appid and region the local adapter's events name (a COS-style fake bucket).
LOCAL_APPID = "1250000000"
LOCAL_BUCKET = "retouch-local"
LOCAL_REGION = "local"
_DEFAULT_CONTENT_TYPE = "application/octet-stream"

ObjectCreatedHook = Callable[[dict[str, Any]], None]


class LocalStorage:
    """Implements `Storage` on the local file system."""

    def __init__(
        self,
        *,
        root: Path,
        base_url: str,
        signer: Signer,
        on_object_created: ObjectCreatedHook | None = None,
    ) -> None:
        self.root = root
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.on_object_created = on_object_created

    # --- presigning ------------------------------------------------------------------------

    def presign_upload(
        self, key: str, *, content_type: str, max_bytes: int, expires_s: int
    ) -> UploadTicket:
        if max_bytes < 1 or expires_s < 1:
            raise ValueError("max_bytes and expires_s must be positive")
        request = SignedRequest(
            method="PUT",
            key=validate_key(key),
            expires_at=self.signer.now() + expires_s,
            content_type=content_type,
            max_bytes=max_bytes,
        )
        return UploadTicket(
            method="PUT",
            url=self._url(key, self.signer.sign(request)),
            headers={"Content-Type": content_type},
            expires_at=from_epoch(request.expires_at),
        )

    def presign_download(self, key: str, *, expires_s: int) -> str:
        if expires_s < 1:
            raise ValueError("expires_s must be positive")
        request = SignedRequest(
            method="GET", key=validate_key(key), expires_at=self.signer.now() + expires_s
        )
        return self._url(key, self.signer.sign(request))

    def temporary_credentials(self, key: str, *, expires_s: int) -> Credentials:
        expires_at = self.signer.now() + expires_s
        return Credentials(
            access_key_id="local",
            secret_access_key="",
            session_token=self.signer.issue_token(validate_key(key), expires_at=expires_at),
            key=key,
            bucket=LOCAL_BUCKET,
            region=LOCAL_REGION,
            expires_at=from_epoch(expires_at),
        )

    # --- what the gateway calls ------------------------------------------------------------

    def accept_upload(
        self,
        key: str,
        *,
        method: str,
        query: Mapping[str, str],
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        """Store an upload sent to a presigned URL (or with a temporary credential's token in
        `X-Retouch-Security-Token`) after verifying it; the signature errors otherwise."""
        lowered = {name.lower(): value for name, value in headers.items()}
        content_type = lowered.get("content-type", "")
        token = lowered.get(SECURITY_TOKEN.lower())
        if token is not None and method.upper() == "PUT":
            self.signer.verify_token(token, key=key)
        else:
            self.signer.verify_upload(
                query, method=method, key=key, content_type=content_type, body_size=len(body)
            )
        self.put(key, body, content_type or _DEFAULT_CONTENT_TYPE)

    def serve_download(self, key: str, *, query: Mapping[str, str]) -> tuple[bytes, ObjectInfo]:
        """The object behind a presigned download URL, after verifying it."""
        self.signer.verify_download(query, key=key)
        info = self.head(key)
        if info is None:
            raise ObjectNotFound("No such object")
        return self.get(key), info

    # --- objects ---------------------------------------------------------------------------

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self._path(key)
        metadata = {"content_type": content_type, "etag": hashlib.md5(data).hexdigest()}  # noqa: S324 - an ETag, as S3 and COS compute it
        _write_atomically(self._meta_path(key), json.dumps(metadata).encode())
        _write_atomically(path, data)
        if self.on_object_created is not None:
            self.on_object_created(
                cos_object_created_event(
                    appid=LOCAL_APPID,
                    bucket=LOCAL_BUCKET,
                    region=LOCAL_REGION,
                    key=key,
                    size=len(data),
                    content_type=content_type,
                    event_time=self.signer.now(),
                )
            )

    def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        try:
            with self._path(key).open("rb") as file:
                return within(file.read(read_size(max_bytes) or -1), max_bytes)
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise ObjectNotFound("No such object") from None

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        try:
            status = path.stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        if not path.is_file():
            return None
        try:
            metadata = json.loads(self._meta_path(key).read_bytes())
        except (FileNotFoundError, NotADirectoryError, ValueError):
            metadata = {}
        return ObjectInfo(
            key=key,
            size=status.st_size,
            content_type=str(metadata.get("content_type", _DEFAULT_CONTENT_TYPE)),
            etag=str(metadata.get("etag", "")),
            last_modified=from_epoch(status.st_mtime),
        )

    def delete(self, key: str) -> None:
        for path in (self._path(key), self._meta_path(key)):
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                path.unlink()

    # --- paths -----------------------------------------------------------------------------

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*validate_key(key).split("/"))

    def _meta_path(self, key: str) -> Path:
        *folders, name = validate_key(key).split("/")
        return self.root.joinpath(".meta", *folders, f"{name}.json")

    def _url(self, key: str, parameters: Mapping[str, str]) -> str:
        return f"{self.base_url}/{quote(key)}?{urlencode(parameters)}"


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename it over `path`:
    a reader sees the old bytes or the new ones, never a part."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{secrets.token_hex(8)}")
    try:
        with open(temporary, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
