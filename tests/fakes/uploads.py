"""In-memory uploads keeping the rules of the SQL (`retouch.uploads.repository`) and of the
table (migrations 0006, 0012): unique public id and object key, status changes only from
`pending` (and `ready` → `rejected` when the object changed), `ready_public_ids` and
`ready_uploads` answer only the owner's ready uploads."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime

from retouch.uploads.records import Upload
from tests.fakes.tables import constraint_violated


class FakeUploadRepository:
    def __init__(self) -> None:
        self.uploads: dict[int, Upload] = {}

    def add(
        self,
        *,
        public_id: str,
        user_id: int,
        object_key: str,
        content_type: str,
        declared_size: int,
        now: datetime,
    ) -> None:
        for upload in self.uploads.values():
            if upload.public_id == public_id:
                raise constraint_violated("uq_uploads_public_id")
            if upload.object_key == object_key:
                raise constraint_violated("uq_uploads_object_key")
        upload_id = max(self.uploads, default=0) + 1
        self.uploads[upload_id] = Upload(
            id=upload_id,
            public_id=public_id,
            user_id=user_id,
            object_key=object_key,
            content_type=content_type,
            declared_size=declared_size,
            status="pending",
            width=None,
            height=None,
            actual_size=None,
            sha256=None,
            reject_reason=None,
            created_at=now,
            updated_at=now,
        )

    def get_by_key(self, object_key: str) -> Upload | None:
        return next((u for u in self.uploads.values() if u.object_key == object_key), None)

    def get_by_public_id(self, public_id: str) -> Upload | None:
        return next((u for u in self.uploads.values() if u.public_id == public_id), None)

    def ready_public_ids(self, *, user_id: int, public_ids: Sequence[str]) -> set[str]:
        wanted = set(public_ids)
        return {
            upload.public_id
            for upload in self.uploads.values()
            if upload.user_id == user_id and upload.status == "ready" and upload.public_id in wanted
        }

    def ready_uploads(self, *, user_id: int, public_ids: Sequence[str]) -> dict[str, Upload]:
        wanted = set(public_ids)
        return {
            upload.public_id: upload
            for upload in self.uploads.values()
            if upload.user_id == user_id and upload.status == "ready" and upload.public_id in wanted
        }

    def mark_ready(
        self, upload_id: int, *, width: int, height: int, actual_size: int, sha256: str
    ) -> bool:
        return self._leave(
            upload_id,
            "pending",
            to="ready",
            width=width,
            height=height,
            actual_size=actual_size,
            sha256=sha256,
        )

    def mark_rejected(self, upload_id: int, *, reason: str, actual_size: int) -> bool:
        return self._leave(
            upload_id, "pending", to="rejected", reject_reason=reason, actual_size=actual_size
        )

    def mark_changed(self, upload_id: int) -> bool:
        return self._leave(upload_id, "ready", to="rejected", reject_reason="changed")

    def _leave(self, upload_id: int, status: str, *, to: str, **changes: object) -> bool:
        upload = self.uploads.get(upload_id)
        if upload is None or upload.status != status:
            return False
        self.uploads[upload_id] = dataclasses.replace(upload, status=to, **changes)  # type: ignore[arg-type]
        return True
