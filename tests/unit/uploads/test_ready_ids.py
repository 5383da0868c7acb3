"""Which uploads a task may use: the caller's own, and only once they are ready."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from retouch.uploads.repository import UploadRepository
from tests.fakes.units import InMemoryDatabase
from tests.fakes.uploads import FakeUploadRepository

NOW = datetime(2030, 5, 10, tzinfo=timezone.utc)


@pytest.fixture
def database() -> InMemoryDatabase:
    """Alice (1) owns a ready, a pending and a rejected upload; Bob (2) a ready one."""
    uploads = FakeUploadRepository()
    for number, (user_id, status) in enumerate(
        [(1, "ready"), (1, "pending"), (1, "rejected"), (2, "ready")], start=1
    ):
        uploads.add(
            public_id=f"upl_{number}",
            user_id=user_id,
            object_key=f"uploads/u{user_id}/upl_{number}",
            content_type="image/png",
            declared_size=10,
            now=NOW,
        )
        if status == "ready":
            uploads.mark_ready(number, width=1, height=1, actual_size=10, sha256="0" * 64)
        elif status == "rejected":
            uploads.mark_rejected(number, reason="not_an_image", actual_size=10)
    return InMemoryDatabase({UploadRepository: uploads})


@pytest.mark.parametrize(
    ("user_id", "asked", "ready"),
    [
        (1, ["upl_1"], {"upl_1"}),
        (1, ["upl_2"], set()),
        (1, ["upl_3"], set()),
        (1, ["upl_4"], set()),
        (2, ["upl_1", "upl_4"], {"upl_4"}),
        (1, ["upl_1", "upl_2", "upl_3", "upl_4", "upl_9"], {"upl_1"}),
        (1, [], set()),
    ],
    ids=["own-ready", "pending", "rejected", "someone-elses", "mixed-owners", "mixed", "none"],
)
def test_only_the_callers_ready_uploads_count(
    database: InMemoryDatabase, user_id: int, asked: list[str], ready: set[str]
) -> None:
    with database.read_only() as uow:
        found = uow.repository(UploadRepository).ready_public_ids(user_id=user_id, public_ids=asked)

    assert found == ready


def test_an_upload_leaves_pending_once(database: InMemoryDatabase) -> None:
    with database.unit_of_work() as uow:
        uploads = uow.repository(UploadRepository)
        changed = [
            uploads.mark_ready(2, width=3, height=4, actual_size=10, sha256="0" * 64),
            uploads.mark_rejected(2, reason="too_large", actual_size=10),
            uploads.mark_ready(2, width=5, height=6, actual_size=10, sha256="0" * 64),
        ]
        uow.commit()
        upload = uploads.get_by_public_id("upl_2")

    assert changed == [True, False, False]
    assert upload is not None and (upload.status, upload.width) == ("ready", 3)


def test_two_uploads_cannot_share_an_object_key() -> None:
    import pymysql

    uploads = FakeUploadRepository()
    fields = {"user_id": 1, "content_type": "image/png", "declared_size": 1, "now": NOW}
    uploads.add(public_id="upl_a", object_key="uploads/u1/x", **fields)  # type: ignore[arg-type]

    with pytest.raises(pymysql.err.IntegrityError):
        uploads.add(public_id="upl_b", object_key="uploads/u1/x", **fields)  # type: ignore[arg-type]
