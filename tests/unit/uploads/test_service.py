"""Uploads: a ticket records a pending upload under the caller's prefix; the object check
moves it to ready or rejected once; nobody sees another user's upload."""

from __future__ import annotations

import pytest

from retouch.core.settings import Settings
from retouch.storage import LocalStorage, upload_key, user_prefix
from retouch.uploads.checks import check_uploaded_object
from retouch.uploads.errors import UploadNotFound, UploadRefused
from retouch.uploads.schemas import UploadCreate
from retouch.uploads.service import create_upload, get_upload, issue_credentials
from tests.fakes.units import InMemoryDatabase
from tests.fakes.uploads import FakeUploadRepository
from tests.unit.image_support import jpeg, png, webp_lossless
from tests.unit.uploads.conftest import ALICE, BOB, MAX_BYTES, NOW


def ticket(
    database: InMemoryDatabase,
    storage: LocalStorage,
    settings: Settings,
    *,
    content_type: str = "image/png",
    size: int = MAX_BYTES,
) -> str:
    created = create_upload(
        database=database,
        storage=storage,
        settings=settings,
        principal=ALICE,
        request=UploadCreate.model_validate({"content_type": content_type, "size": size}),
        clock=lambda: NOW,
    )
    return created.id


def only_key(uploads: FakeUploadRepository) -> str:
    (upload,) = uploads.uploads.values()
    return upload.object_key


def test_a_ticket_records_a_pending_upload_under_the_callers_prefix(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    storage: LocalStorage,
    settings: Settings,
) -> None:
    upload_id = ticket(database, storage, settings, size=100)

    (upload,) = uploads.uploads.values()
    assert (upload.public_id, upload.user_id, upload.status) == (upload_id, 1, "pending")
    assert upload.object_key == f"{user_prefix(ALICE.public_id)}{upload_id}"
    assert (upload.content_type, upload.declared_size, upload.created_at) == (
        "image/png",
        100,
        NOW,
    )


def test_each_ticket_is_a_new_upload(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    storage: LocalStorage,
    settings: Settings,
) -> None:
    first = ticket(database, storage, settings)
    second = ticket(database, storage, settings)

    assert first != second
    assert len(uploads.uploads) == 2


def test_a_ticket_for_more_than_the_limit_is_refused_and_records_nothing(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    storage: LocalStorage,
    settings: Settings,
) -> None:
    with pytest.raises(UploadRefused) as refused:
        ticket(database, storage, settings, size=MAX_BYTES + 1)

    assert [error.field for error in refused.value.errors] == ["size"]
    assert uploads.uploads == {}


def test_a_ticket_of_exactly_the_limit_is_accepted(
    database: InMemoryDatabase, storage: LocalStorage, settings: Settings
) -> None:
    upload_id = ticket(database, storage, settings, size=MAX_BYTES)

    assert upload_id.startswith("upl_")


def test_the_owner_reads_a_pending_upload(
    database: InMemoryDatabase, storage: LocalStorage, settings: Settings
) -> None:
    upload_id = ticket(database, storage, settings)

    read = get_upload(database=database, principal=ALICE, upload_id=upload_id)

    assert (read.id, read.status, read.width, read.size, read.reject_reason) == (
        upload_id,
        "pending",
        None,
        None,
        None,
    )


def test_another_users_upload_is_absent(
    database: InMemoryDatabase, storage: LocalStorage, settings: Settings
) -> None:
    upload_id = ticket(database, storage, settings)

    with pytest.raises(UploadNotFound):
        get_upload(database=database, principal=BOB, upload_id=upload_id)


@pytest.mark.parametrize(
    "upload_id", ["upl_" + "B" * 22, "not-an-id", "upl_short", "tsk_" + "A" * 22, ""]
)
def test_an_unknown_or_malformed_upload_id_is_absent(
    database: InMemoryDatabase, upload_id: str
) -> None:
    with pytest.raises(UploadNotFound):
        get_upload(database=database, principal=ALICE, upload_id=upload_id)


def test_credentials_record_a_pending_upload_and_are_confined_to_its_key(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    storage: LocalStorage,
    settings: Settings,
) -> None:
    credentials = issue_credentials(
        database=database,
        storage=storage,
        settings=settings,
        principal=ALICE,
        request=UploadCreate.model_validate({"content_type": "image/png", "size": 300}),
        clock=lambda: NOW,
    )

    (upload,) = uploads.uploads.values()
    assert (upload.public_id, upload.status, upload.declared_size) == (
        credentials.id,
        "pending",
        300,
    )
    assert (
        credentials.key
        == upload.object_key
        == upload_key(user_id=ALICE.public_id, upload_id=credentials.id)
    )


def test_credentials_for_more_than_the_limit_are_refused_and_record_nothing(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    storage: LocalStorage,
    settings: Settings,
) -> None:
    with pytest.raises(UploadRefused):
        issue_credentials(
            database=database,
            storage=storage,
            settings=settings,
            principal=ALICE,
            request=UploadCreate.model_validate(
                {"content_type": "image/png", "size": MAX_BYTES + 1}
            ),
        )

    assert uploads.uploads == {}


def check(database: InMemoryDatabase, storage: LocalStorage, settings: Settings, key: str) -> str:
    return check_uploaded_object(database=database, storage=storage, settings=settings, key=key)


def test_a_matching_image_makes_the_upload_ready_with_its_dimensions(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    storage: LocalStorage,
    settings: Settings,
) -> None:
    upload_id = ticket(database, storage, settings)
    data = png(30, 20)
    storage.put(only_key(uploads), data, "image/png")

    outcome = check(database, storage, settings, only_key(uploads))

    assert outcome == "ready"
    read = get_upload(database=database, principal=ALICE, upload_id=upload_id)
    assert (read.status, read.width, read.height, read.size) == ("ready", 30, 20, len(data))
    assert storage.head(only_key(uploads)) is not None


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"plain text, not an image", "not_an_image"),
        (jpeg(10, 10), "type_mismatch"),
        (png(200, 200), "too_many_pixels"),
        (b"\0" * (MAX_BYTES + 1), "too_large"),
    ],
    ids=["not-an-image", "type-mismatch", "too-many-pixels", "too-large"],
)
def test_a_bad_object_rejects_the_upload_and_is_deleted(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    storage: LocalStorage,
    settings: Settings,
    data: bytes,
    reason: str,
) -> None:
    upload_id = ticket(database, storage, settings)
    storage.put(only_key(uploads), data, "image/png")

    outcome = check(database, storage, settings, only_key(uploads))

    assert outcome == "rejected"
    read = get_upload(database=database, principal=ALICE, upload_id=upload_id)
    assert (read.status, read.reject_reason, read.size) == ("rejected", reason, len(data))
    assert storage.head(only_key(uploads)) is None


def test_a_redelivered_event_changes_nothing(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    storage: LocalStorage,
    settings: Settings,
) -> None:
    ticket(database, storage, settings)
    storage.put(only_key(uploads), png(30, 20), "image/png")
    check(database, storage, settings, only_key(uploads))
    commits = database.commits

    outcome = check(database, storage, settings, only_key(uploads))

    assert outcome == "unchanged"
    assert database.commits == commits


def test_a_rejected_upload_never_becomes_ready_and_a_new_object_for_it_is_deleted(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    storage: LocalStorage,
    settings: Settings,
) -> None:
    upload_id = ticket(database, storage, settings)
    storage.put(only_key(uploads), b"not an image", "image/png")
    check(database, storage, settings, only_key(uploads))
    storage.put(only_key(uploads), png(30, 20), "image/png")

    outcome = check(database, storage, settings, only_key(uploads))

    assert outcome == "unchanged"
    read = get_upload(database=database, principal=ALICE, upload_id=upload_id)
    assert read.status == "rejected"
    assert storage.head(only_key(uploads)) is None


def test_an_object_without_an_upload_is_deleted(
    database: InMemoryDatabase, storage: LocalStorage, settings: Settings
) -> None:
    key = f"{user_prefix(ALICE.public_id)}upl_{'C' * 22}"
    storage.put(key, png(5, 5), "image/png")

    outcome = check(database, storage, settings, key)

    assert outcome == "orphan_deleted"
    assert storage.head(key) is None


def test_an_event_for_no_upload_and_no_object_is_ignored(
    database: InMemoryDatabase, storage: LocalStorage, settings: Settings
) -> None:
    key = f"{user_prefix(ALICE.public_id)}upl_{'C' * 22}"

    assert check(database, storage, settings, key) == "ignored"


def test_an_upload_whose_object_is_gone_stays_pending(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    storage: LocalStorage,
    settings: Settings,
) -> None:
    upload_id = ticket(database, storage, settings)

    outcome = check(database, storage, settings, only_key(uploads))

    assert outcome == "ignored"
    assert get_upload(database=database, principal=ALICE, upload_id=upload_id).status == "pending"


@pytest.mark.parametrize("key", ["../etc/passwd", "", "outputs", "uploads/a b/c"])
def test_an_event_for_an_invalid_key_is_ignored(
    database: InMemoryDatabase, storage: LocalStorage, settings: Settings, key: str
) -> None:
    assert check(database, storage, settings, key) == "ignored"


@pytest.mark.parametrize(
    ("content_type", "data"),
    [("image/png", png(8, 6)), ("image/jpeg", jpeg(8, 6)), ("image/webp", webp_lossless(8, 6))],
    ids=["png", "jpeg", "webp"],
)
def test_each_accepted_image_type_becomes_ready(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    storage: LocalStorage,
    settings: Settings,
    content_type: str,
    data: bytes,
) -> None:
    upload_id = ticket(database, storage, settings, content_type=content_type)
    storage.put(only_key(uploads), data, content_type)

    assert check(database, storage, settings, only_key(uploads)) == "ready"
    read = get_upload(database=database, principal=ALICE, upload_id=upload_id)
    assert (read.width, read.height, read.content_type) == (8, 6, content_type)
