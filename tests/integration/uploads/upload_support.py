"""Helpers of the upload tests: an upload's row as the trigger left it."""

from __future__ import annotations

from typing import Any

from retouch.core.db import get_database


def upload_row(public_id: str) -> dict[str, Any]:
    """The upload's status, dimensions, size, fingerprint, reject reason and object key."""
    with get_database().read_only() as uow:
        row = uow.fetch_one(
            "SELECT status, width, height, actual_size, sha256, reject_reason, object_key "
            "FROM uploads WHERE public_id = %s",
            (public_id,),
        )
    assert row is not None
    return row
