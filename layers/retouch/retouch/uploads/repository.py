"""Uploads: the repository port and its SQL adapter. Parameterised statements only; nothing
here commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from retouch.core.db import Row, UnitOfWork
from retouch.core.time import from_db, to_db
from retouch.core.units import sql_adapter
from retouch.uploads.records import Upload

_SELECT = (
    "SELECT id, public_id, user_id, object_key, content_type, declared_size, status, width, "
    "height, actual_size, sha256, reject_reason, created_at, updated_at FROM uploads "
)
_BY_KEY = _SELECT + "WHERE object_key = %s"
_BY_PUBLIC_ID = _SELECT + "WHERE public_id = %s"
# pymysql sends a tuple as a parenthesised list
_READY = _SELECT + "WHERE user_id = %s AND status = 'ready' AND public_id IN %s"


class UploadRepository(Protocol):
    """Uploads by key and public id; a `pending` upload changes status once, and a `ready`
    one only to `rejected` when its object changed."""

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
        """Insert a `pending` upload."""
        ...

    def get_by_key(self, object_key: str) -> Upload | None: ...

    def get_by_public_id(self, public_id: str) -> Upload | None: ...

    def ready_public_ids(self, *, user_id: int, public_ids: Sequence[str]) -> set[str]:
        """Which of `public_ids` are `ready` uploads of this user."""
        ...

    def ready_uploads(self, *, user_id: int, public_ids: Sequence[str]) -> dict[str, Upload]:
        """Those of `public_ids` that are `ready` uploads of this user (public id → upload)."""
        ...

    def mark_ready(
        self, upload_id: int, *, width: int, height: int, actual_size: int, sha256: str
    ) -> bool:
        """`pending` → `ready`, with the size and SHA-256 of the bytes inspected; False when
        the upload was not pending (a redelivered event)."""
        ...

    def mark_rejected(self, upload_id: int, *, reason: str, actual_size: int) -> bool:
        """`pending` → `rejected`; False when the upload was not pending."""
        ...

    def mark_changed(self, upload_id: int) -> bool:
        """`ready` → `rejected` (`changed`): its object is no longer what was inspected.
        False when the upload was not ready."""
        ...


def upload_from_row(row: Row) -> Upload:
    return Upload(
        id=int(row["id"]),
        public_id=row["public_id"],
        user_id=int(row["user_id"]),
        object_key=row["object_key"],
        content_type=row["content_type"],
        declared_size=int(row["declared_size"]),
        status=row["status"],
        width=row["width"],
        height=row["height"],
        actual_size=row["actual_size"],
        sha256=row["sha256"],
        reject_reason=row["reject_reason"],
        created_at=from_db(row["created_at"]),
        updated_at=from_db(row["updated_at"]),
    )


@sql_adapter(UploadRepository)
class MySQLUploadRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

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
        """Insert a `pending` upload."""
        self._uow.execute(
            "INSERT INTO uploads (public_id, user_id, object_key, content_type, declared_size, "
            "created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (public_id, user_id, object_key, content_type, declared_size, to_db(now), to_db(now)),
        )

    def get_by_key(self, object_key: str) -> Upload | None:
        row = self._uow.fetch_one(_BY_KEY, (object_key,))
        return None if row is None else upload_from_row(row)

    def get_by_public_id(self, public_id: str) -> Upload | None:
        row = self._uow.fetch_one(_BY_PUBLIC_ID, (public_id,))
        return None if row is None else upload_from_row(row)

    def ready_public_ids(self, *, user_id: int, public_ids: Sequence[str]) -> set[str]:
        """Which of `public_ids` are `ready` uploads of this user (one query)."""
        if not public_ids:
            return set()
        rows = self._uow.fetch_all(
            "SELECT public_id FROM uploads WHERE user_id = %s AND status = 'ready' "
            "AND public_id IN %s",  # pymysql sends a tuple as a parenthesised list
            (user_id, tuple(public_ids)),
        )
        return {row["public_id"] for row in rows}

    def ready_uploads(self, *, user_id: int, public_ids: Sequence[str]) -> dict[str, Upload]:
        """Those of `public_ids` that are `ready` uploads of this user (one query)."""
        if not public_ids:
            return {}
        rows = self._uow.fetch_all(_READY, (user_id, tuple(public_ids)))
        return {row["public_id"]: upload_from_row(row) for row in rows}

    def mark_ready(
        self, upload_id: int, *, width: int, height: int, actual_size: int, sha256: str
    ) -> bool:
        """`pending` → `ready`; False when the upload was not pending (a redelivered event)."""
        return (
            self._uow.execute(
                "UPDATE uploads SET status = 'ready', width = %s, height = %s, actual_size = %s, "
                "sha256 = %s WHERE id = %s AND status = 'pending'",
                (width, height, actual_size, sha256, upload_id),
            )
            == 1
        )

    def mark_rejected(self, upload_id: int, *, reason: str, actual_size: int) -> bool:
        """`pending` → `rejected`; False when the upload was not pending."""
        return (
            self._uow.execute(
                "UPDATE uploads SET status = 'rejected', reject_reason = %s, actual_size = %s "
                "WHERE id = %s AND status = 'pending'",
                (reason, actual_size, upload_id),
            )
            == 1
        )

    def mark_changed(self, upload_id: int) -> bool:
        """`ready` → `rejected` (`changed`); False when the upload was not ready."""
        return (
            self._uow.execute(
                "UPDATE uploads SET status = 'rejected', reject_reason = 'changed' "
                "WHERE id = %s AND status = 'ready'",
                (upload_id,),
            )
            == 1
        )
