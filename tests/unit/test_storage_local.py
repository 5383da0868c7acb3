"""The local storage adapter on the real file system: objects, atomic writes, key rules."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from retouch.core.settings import get_settings
from retouch.storage import (
    InvalidStorageKey,
    ObjectNotFound,
    ObjectTooLarge,
    Storage,
    local_storage,
    output_key,
    upload_key,
    validate_key,
)
from tests.unit.storage_support import SecondsClock, make_storage

KEY = "uploads/usr_abc/upl_123"


@pytest.fixture
def clock() -> SecondsClock:
    return SecondsClock()


def test_put_then_get_head_and_delete_round_trip(tmp_path: Path, clock: SecondsClock) -> None:
    storage: Storage = make_storage(tmp_path, clock)

    storage.put(KEY, b"\x89PNG image bytes", "image/png")

    assert storage.get(KEY) == b"\x89PNG image bytes"
    info = storage.head(KEY)
    assert info is not None
    assert (info.key, info.size, info.content_type) == (KEY, 16, "image/png")
    storage.delete(KEY)
    assert storage.head(KEY) is None
    with pytest.raises(ObjectNotFound):
        storage.get(KEY)


def test_put_replaces_an_object_and_its_content_type(tmp_path: Path, clock: SecondsClock) -> None:
    storage = make_storage(tmp_path, clock)
    storage.put(KEY, b"first", "image/png")

    storage.put(KEY, b"second!", "image/jpeg")

    info = storage.head(KEY)
    assert info is not None and (info.size, info.content_type) == (7, "image/jpeg")
    assert storage.get(KEY) == b"second!"


def test_deleting_a_missing_object_is_not_an_error(tmp_path: Path, clock: SecondsClock) -> None:
    storage = make_storage(tmp_path, clock)

    storage.delete(KEY)

    assert storage.head(KEY) is None


def test_readers_never_see_a_partly_written_object(tmp_path: Path, clock: SecondsClock) -> None:
    storage = make_storage(tmp_path, clock)
    versions = [b"a" * 4_000_000, b"b" * 4_000_000]
    storage.put(KEY, versions[0], "image/png")
    torn: list[int] = []
    done = threading.Event()

    def read_while_writing() -> None:
        while not done.is_set():
            data = storage.get(KEY)
            if data not in versions:
                torn.append(len(data))

    reader = threading.Thread(target=read_while_writing)
    reader.start()
    try:
        for round_number in range(20):
            storage.put(KEY, versions[round_number % 2], "image/png")
    finally:
        done.set()
        reader.join()

    assert torn == []
    assert [path.name for path in (tmp_path / "uploads" / "usr_abc").iterdir()] == ["upl_123"]


@pytest.mark.parametrize(
    "key",
    [
        "../x",
        "uploads/../../etc/passwd",
        "/abs",
        "/uploads/usr/x",
        "",
        "uploads",
        "uploads/",
        "uploads//x",
        "uploads/usr/.hidden",
        "uploads/usr/..",
        "uploads/usr/x\\y",
        "uploads/usr/x y",
        "uploads/usr/x%2F..",
        "uploads/usr/x\x00",
        "uploads/usr/\u2024\u2024",  # one-dot leaders that some systems fold to '..'
        "uploads/usr/\uff0e\uff0e",  # fullwidth full stops
        "uploads/usr/ｘ",  # fullwidth letter
        "uploads/usr/x\u200b",  # zero-width space
        "secrets/usr/x",
        "uploads/" + "x" * 600,
    ],
)
def test_malformed_keys_are_refused_before_any_io(
    tmp_path: Path, clock: SecondsClock, key: str
) -> None:
    root = tmp_path / "objects"
    storage = make_storage(root, clock)

    for operation in (
        lambda: storage.put(key, b"x", "image/png"),
        lambda: storage.get(key),
        lambda: storage.head(key),
        lambda: storage.delete(key),
        lambda: storage.presign_download(key, expires_s=60),
        lambda: storage.presign_upload(key, content_type="image/png", max_bytes=1, expires_s=60),
    ):
        with pytest.raises(InvalidStorageKey):
            operation()

    assert not root.exists()
    assert not (tmp_path / "etc").exists()


def test_keys_we_make_follow_the_rules() -> None:
    assert upload_key(user_id="usr_Xc3-_a", upload_id="upl_9Zq") == "uploads/usr_Xc3-_a/upl_9Zq"
    assert output_key(task_id="tsk_1", name="0.png") == "outputs/tsk_1/0.png"
    assert validate_key("outputs/tsk_1/0.png") == "outputs/tsk_1/0.png"
    with pytest.raises(InvalidStorageKey):
        upload_key(user_id="../usr", upload_id="upl_1")


def test_settings_configure_the_local_adapter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(tmp_path / "objects"))
    storage = local_storage(get_settings())

    storage.put(KEY, b"x", "image/png")

    assert (tmp_path / "objects" / "uploads" / "usr_abc" / "upl_123").read_bytes() == b"x"
    assert storage.presign_download(KEY, expires_s=60).startswith(
        "http://127.0.0.1:8000/_storage/uploads/usr_abc/upl_123?"
    )


def test_a_bounded_read_refuses_an_object_longer_than_its_bound(
    tmp_path: Path, clock: SecondsClock
) -> None:
    storage: Storage = make_storage(tmp_path, clock)
    storage.put(KEY, b"x" * 1000, "image/png")

    assert storage.get(KEY, max_bytes=1000) == b"x" * 1000
    with pytest.raises(ObjectTooLarge):
        storage.get(KEY, max_bytes=999)
