"""The local gateway's storage routes over HTTP: signed uploads and downloads, refusals as
problem+json, and the COS-shaped event handed to the upload trigger's hook."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.testclient import TestClient

from retouch.core.settings import get_settings
from retouch.storage import LocalStorage, UploadTooLarge, parse_object_created
from retouch.storage.signing import SECURITY_TOKEN
from scripts.local.storage_gateway import bounded_body, storage_routes
from tests.unit.storage_support import SecondsClock, make_storage

KEY = "uploads/usr_abc/upl_123"
PNG = "image/png"


@pytest.fixture
def events() -> list[dict[str, Any]]:
    return []


@pytest.fixture
def storage(tmp_path: Path, events: list[dict[str, Any]]) -> LocalStorage:
    return make_storage(tmp_path, SecondsClock(), events)


@pytest.fixture
def client(storage: LocalStorage) -> Iterator[TestClient]:
    with TestClient(Starlette(routes=storage_routes(storage))) as client:
        yield client


def _path(url: str) -> str:
    """The path and query of a presigned URL, as the test client sends them."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def test_presigned_upload_is_stored_and_its_event_reaches_the_hook(
    client: TestClient, storage: LocalStorage, events: list[dict[str, Any]]
) -> None:
    ticket = storage.presign_upload(KEY, content_type=PNG, max_bytes=100, expires_s=300)

    response = client.request(
        ticket.method, _path(ticket.url), headers=dict(ticket.headers), content=b"\x89PNG data"
    )

    assert response.status_code == 200
    assert storage.get(KEY) == b"\x89PNG data"
    assert [(item.key, item.size) for item in parse_object_created(events[0])] == [(KEY, 9)]


def test_upload_of_another_type_is_refused_with_a_problem_and_stores_nothing(
    client: TestClient, storage: LocalStorage, events: list[dict[str, Any]]
) -> None:
    ticket = storage.presign_upload(KEY, content_type=PNG, max_bytes=100, expires_s=300)

    response = client.put(
        _path(ticket.url),
        headers={"Content-Type": "text/html", "Accept-Language": "en"},
        content=b"<script>",
    )

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "SIGNATURE_INVALID"
    assert storage.head(KEY) is None
    assert events == []


def test_upload_larger_than_signed_is_refused_with_413(
    client: TestClient, storage: LocalStorage
) -> None:
    ticket = storage.presign_upload(KEY, content_type=PNG, max_bytes=4, expires_s=300)

    response = client.put(_path(ticket.url), headers=dict(ticket.headers), content=b"12345")

    assert response.status_code == 413
    assert response.json()["code"] == "UPLOAD_TOO_LARGE"
    assert storage.head(KEY) is None


def test_a_presigned_body_past_the_largest_upload_is_refused_with_413(
    client: TestClient, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_UPLOAD_MAX_BYTES", str(64 * 1024))
    get_settings.cache_clear()
    ticket = storage.presign_upload(KEY, content_type=PNG, max_bytes=64 * 1024, expires_s=300)
    headers = dict(ticket.headers)

    streamed = client.put(_path(ticket.url), headers=headers, content=b"x" * (64 * 1024 + 1))
    declared = client.put(
        _path(ticket.url), headers={**headers, "Content-Length": str(10**9)}, content=b"x"
    )

    assert (streamed.status_code, declared.status_code) == (413, 413)
    assert streamed.json()["code"] == declared.json()["code"] == "UPLOAD_TOO_LARGE"
    assert storage.head(KEY) is None


def test_a_streamed_body_is_cut_off_once_past_the_largest_upload(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN uploads of at most 64 KiB and a body arriving in 100 chunks of 16 KiB
    monkeypatch.setenv("RETOUCH_UPLOAD_MAX_BYTES", str(64 * 1024))
    get_settings.cache_clear()
    received: list[int] = []

    async def receive() -> dict[str, Any]:
        received.append(len(received))
        return {"type": "http.request", "body": b"x" * 16 * 1024, "more_body": len(received) < 100}

    request = Request({"type": "http", "method": "PUT", "headers": []}, receive)

    # WHEN the gateway reads it THEN it stops at the fifth chunk with 413
    with pytest.raises(UploadTooLarge):
        asyncio.run(bounded_body(request))
    assert len(received) == 5


def test_credential_token_uploads_its_one_key_only(
    client: TestClient, storage: LocalStorage
) -> None:
    token = storage.temporary_credentials(KEY, expires_s=900).session_token
    headers = {"Content-Type": PNG, SECURITY_TOKEN: token}

    inside = client.put(f"/_storage/{KEY}", headers=headers, content=b"mine")
    sibling = client.put("/_storage/uploads/usr_abc/upl_124", headers=headers, content=b"no")
    outside = client.put("/_storage/uploads/usr_other/upl_1", headers=headers, content=b"no")

    assert (inside.status_code, sibling.status_code, outside.status_code) == (200, 403, 403)
    assert storage.head("uploads/usr_abc/upl_124") is None
    assert storage.head("uploads/usr_other/upl_1") is None


def test_presigned_download_serves_the_object_with_its_type(
    client: TestClient, storage: LocalStorage
) -> None:
    storage.put(KEY, b"image bytes", PNG)

    response = client.get(_path(storage.presign_download(KEY, expires_s=60)))

    assert response.status_code == 200
    assert response.content == b"image bytes"
    assert response.headers["content-type"] == PNG


def test_download_without_a_signature_or_of_a_traversal_key_is_refused(
    client: TestClient, storage: LocalStorage
) -> None:
    storage.put(KEY, b"image bytes", PNG)

    unsigned = client.get(f"/_storage/{KEY}")
    traversal = client.get("/_storage/uploads/usr_abc/%2E%2E/%2E%2E/etc/passwd")

    assert unsigned.status_code == 403
    assert traversal.status_code == 403
    assert b"image bytes" not in traversal.content
