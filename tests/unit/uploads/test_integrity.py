"""An accepted upload cannot be swapped (issue 13, item 2): the ticket binds the declared size,
the trigger records the SHA-256 of what it inspected and re-checks every later event, and
`read_inspected` hands out only those bytes."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest

from retouch.core.settings import Settings
from retouch.storage import LocalStorage, UploadTooLarge
from retouch.uploads.checks import check_uploaded_object
from retouch.uploads.integrity import UploadChanged, fingerprint, read_inspected
from retouch.uploads.records import Upload
from retouch.uploads.schemas import UploadCreate
from retouch.uploads.service import create_upload
from tests.fakes.storage import MemoryStorage
from tests.fakes.units import InMemoryDatabase
from tests.fakes.uploads import FakeUploadRepository
from tests.unit.image_support import png
from tests.unit.uploads.conftest import ALICE, MAX_BYTES, NOW

PICTURE = png(8, 8)


class CountingStorage(MemoryStorage):
    """The memory storage, counting the objects read (`get`) by key."""

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[str] = []

    def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        self.reads.append(key)
        return super().get(key, max_bytes=max_bytes)


def ticket(
    database: InMemoryDatabase, storage: LocalStorage | MemoryStorage, settings: Settings, size: int
) -> str:
    return create_upload(
        database=database,
        storage=storage,
        settings=settings,
        principal=ALICE,
        request=UploadCreate.model_validate({"content_type": "image/png", "size": size}),
        clock=lambda: NOW,
    ).url


def ready_upload(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    storage: MemoryStorage,
    settings: Settings,
    data: bytes = PICTURE,
) -> Upload:
    ticket(database, storage, settings, len(data))
    (upload,) = uploads.uploads.values()
    storage.put(upload.object_key, data, "image/png")
    assert check(database, storage, settings, upload.object_key) == "ready"
    return uploads.uploads[upload.id]


def check(
    database: InMemoryDatabase, storage: MemoryStorage | LocalStorage, settings: Settings, key: str
) -> str:
    return check_uploaded_object(database=database, storage=storage, settings=settings, key=key)


# --- the ticket -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body_size", [1025, MAX_BYTES, 6_300_000], ids=["1-byte-over", "limit", "6.3MB"]
)
def test_a_1kb_ticket_refuses_a_larger_body_even_within_the_global_limit(
    database: InMemoryDatabase, storage: LocalStorage, settings: Settings, body_size: int
) -> None:
    url = urlsplit(ticket(database, storage, settings, 1024))
    key, query = url.path.split("/_storage/", 1)[1], dict(parse_qsl(url.query))
    headers = {"Content-Type": "image/png"}

    with pytest.raises(UploadTooLarge):
        storage.accept_upload(
            key, method="PUT", query=query, headers=headers, body=b"\0" * body_size
        )
    storage.accept_upload(key, method="PUT", query=query, headers=headers, body=b"\0" * 1024)

    stored = storage.head(key)
    assert stored is not None and stored.size == 1024


# --- the trigger ------------------------------------------------------------------------------


@pytest.fixture
def memory() -> CountingStorage:
    return CountingStorage()


def test_a_ready_upload_records_the_size_and_sha256_of_the_bytes_inspected(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    memory: CountingStorage,
    settings: Settings,
) -> None:
    upload = ready_upload(database, uploads, memory, settings)

    assert (upload.status, upload.actual_size, upload.sha256) == (
        "ready",
        len(PICTURE),
        fingerprint(PICTURE),
    )


def test_an_object_above_its_declared_size_is_rejected_unread(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    memory: CountingStorage,
    settings: Settings,
) -> None:
    ticket(database, memory, settings, 1024)
    (upload,) = uploads.uploads.values()
    memory.put(upload.object_key, PICTURE + b"\0" * 1024, "image/png")  # within MAX_BYTES

    assert check(database, memory, settings, upload.object_key) == "rejected"
    assert uploads.uploads[upload.id].reject_reason == "too_large"
    assert memory.reads == [] and memory.head(upload.object_key) is None


def test_a_ready_upload_replaced_by_other_bytes_of_its_size_is_rejected_as_changed(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    memory: CountingStorage,
    settings: Settings,
) -> None:
    # GIVEN a ready upload, whose key then receives another image of exactly its size
    upload = ready_upload(database, uploads, memory, settings)
    other = bytearray(PICTURE)
    other[-20] ^= 0xFF
    memory.put(upload.object_key, bytes(other), "image/png")

    # WHEN the object-created event of that write arrives
    outcome = check(database, memory, settings, upload.object_key)

    # THEN the upload is rejected and the object deleted
    assert outcome == "rejected"
    assert (uploads.uploads[upload.id].status, uploads.uploads[upload.id].reject_reason) == (
        "rejected",
        "changed",
    )
    assert memory.head(upload.object_key) is None


def test_a_ready_upload_replaced_by_a_larger_object_is_rejected_without_reading_it(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    memory: CountingStorage,
    settings: Settings,
) -> None:
    upload = ready_upload(database, uploads, memory, settings)
    memory.reads.clear()
    memory.put(upload.object_key, b"<html>" + b"x" * 22_000_000, "text/html")

    assert check(database, memory, settings, upload.object_key) == "rejected"
    assert memory.reads == []
    assert uploads.uploads[upload.id].reject_reason == "changed"
    assert memory.head(upload.object_key) is None


def test_an_event_for_the_same_bytes_again_leaves_a_ready_upload_ready(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    memory: CountingStorage,
    settings: Settings,
) -> None:
    upload = ready_upload(database, uploads, memory, settings)
    memory.put(upload.object_key, PICTURE, "image/png")  # the same bytes written again

    assert check(database, memory, settings, upload.object_key) == "unchanged"
    assert uploads.uploads[upload.id] == upload


# --- what prepare reads -----------------------------------------------------------------------


def test_read_inspected_returns_the_bytes_inspected(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    memory: CountingStorage,
    settings: Settings,
) -> None:
    upload = ready_upload(database, uploads, memory, settings)

    assert read_inspected(memory, upload) == PICTURE


@pytest.mark.parametrize(
    ("replacement", "read"),
    [
        pytest.param(PICTURE[:-1] + b"\x01", True, id="same-size"),
        pytest.param(png(7100, 7100, pixels=False) * 1000, False, id="other-size"),
        pytest.param(None, False, id="gone"),
    ],
)
def test_read_inspected_refuses_an_object_that_is_not_the_one_inspected(
    database: InMemoryDatabase,
    uploads: FakeUploadRepository,
    memory: CountingStorage,
    settings: Settings,
    replacement: bytes | None,
    read: bool,
) -> None:
    upload = ready_upload(database, uploads, memory, settings)
    memory.reads.clear()
    if replacement is None:
        memory.delete(upload.object_key)
    else:
        memory.put(upload.object_key, replacement, "image/png")

    with pytest.raises(UploadChanged) as refused:
        read_inspected(memory, upload)

    assert refused.value.upload == upload
    assert memory.reads == ([upload.object_key] if read else [])


def test_an_upload_checked_before_fingerprints_is_read_as_it_is(memory: CountingStorage) -> None:
    upload = Upload(
        id=1,
        public_id="upl_" + "L" * 22,
        user_id=1,
        object_key="uploads/usr_legacy/upl_1",
        content_type="image/png",
        declared_size=100,
        status="ready",
        width=8,
        height=8,
        actual_size=100,
        sha256=None,
        reject_reason=None,
        created_at=NOW,
        updated_at=NOW,
    )
    memory.put(upload.object_key, PICTURE, "image/png")

    # Nothing to compare with: prepare inspects the header of what it reads before decoding
    # it (tests/unit/pipeline/test_input_integrity.py), as for any input.
    assert read_inspected(memory, upload) == PICTURE


@pytest.mark.parametrize("key", ["work/tsk_1/in-image.png", "outputs/tsk_1/0.png"])
def test_an_event_for_the_pipelines_own_files_is_ignored_and_they_are_kept(
    database: InMemoryDatabase, memory: CountingStorage, settings: Settings, key: str
) -> None:
    memory.put(key, PICTURE, "image/png")

    assert check(database, memory, settings, key) == "ignored"
    assert memory.get(key) == PICTURE
