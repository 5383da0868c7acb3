"""The local gateway serves the local object storage beside the functions' routes."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from scripts.local.gateway import create_gateway
from scripts.local.sam import Template
from tests.conftest import Stack
from tests.unit.storage_support import SecondsClock, make_storage

pytestmark = pytest.mark.integration


def test_gateway_accepts_a_presigned_upload_and_serves_it_back(
    stack: Stack, echo_template: Template, tmp_path: Path
) -> None:
    # GIVEN a gateway over a local storage whose object-created hook records events
    events: list[dict[str, Any]] = []
    storage = make_storage(tmp_path, SecondsClock(), events)
    key = "uploads/usr_abc/upl_1"
    ticket = storage.presign_upload(key, content_type="image/webp", max_bytes=64, expires_s=60)

    with TestClient(create_gateway(echo_template, storage=storage)) as client:
        # WHEN a client uploads with the ticket, then reads with a download URL
        upload_url = urlsplit(ticket.url)
        uploaded = client.put(
            f"{upload_url.path}?{upload_url.query}", headers=dict(ticket.headers), content=b"RIFF"
        )
        download_url = urlsplit(storage.presign_download(key, expires_s=60))
        downloaded = client.get(f"{download_url.path}?{download_url.query}")

    # THEN the object went through the storage routes, not a function, and raised one event
    assert uploaded.status_code == 200
    assert (downloaded.status_code, downloaded.content) == (200, b"RIFF")
    assert len(events) == 1
