"""Issue 5's "done when", through the local gateway and template.yaml's functions: upload an
image with the presigned URL, see it become `ready`, create a task of each of the five
features, list, read, follow, cancel (credits return) and delete them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from scripts.local.gateway import create_gateway
from scripts.local.sam import load_template
from tests.conftest import Stack
from tests.integration.identity_support import new_account
from tests.integration.task_support import when_stream_listens
from tests.unit.image_support import png

pytestmark = pytest.mark.integration

FEATURE_UPLOADS = {
    "cutout": {"image": "photo"},
    "eraser": {"image": "photo", "mask": "mask"},
    "outfit": {"image": "photo", "garment": "garment", "garment_type": "upper"},
    "faceswap": {"image": "photo", "face": "face"},
    "outpaint": {"image": "photo", "ratio": "16:9"},
}


@pytest.fixture
def gateway(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(tmp_path / "objects"))
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_SIGNING_KEY", "s" * 40)
    with TestClient(create_gateway(load_template())) as client:
        yield client


def upload(client: TestClient, headers: dict[str, str], data: bytes) -> str:
    ticket = client.post(
        "/v1/uploads", json={"content_type": "image/png", "size": len(data)}, headers=headers
    ).json()
    url = urlsplit(ticket["url"])
    put = client.put(f"{url.path}?{url.query}", headers=ticket["headers"], content=data)
    assert put.status_code == 200, put.text
    # the client sees the upload become ready (the trigger has checked it)
    upload = client.get(f"/v1/uploads/{ticket['id']}", headers=headers).json()
    assert upload["status"] == "ready", upload
    return str(ticket["id"])


def balance(client: TestClient, headers: dict[str, str]) -> dict[str, Any]:
    quota: dict[str, Any] = client.get("/v1/me/quota", headers=headers).json()
    return quota


def test_a_client_uploads_creates_one_task_per_feature_lists_reads_cancels_and_deletes(
    gateway: TestClient,
) -> None:
    # GIVEN a user who uploaded four images through presigned URLs (checked by the trigger)
    _, headers = new_account()
    uploads = {
        name: upload(gateway, headers, png(8, 8)) for name in ("photo", "mask", "garment", "face")
    }
    start = balance(gateway, headers)

    # WHEN they create a task of each feature
    created = {}
    for feature, fields in FEATURE_UPLOADS.items():
        inputs = {key: uploads.get(value, value) for key, value in fields.items()}
        response = gateway.post(
            "/v1/tasks",
            json={"feature": feature, "inputs": inputs},
            headers={**headers, "Idempotency-Key": f"first-{feature}"},
        )
        assert response.status_code == 202, response.text
        created[feature] = response.json()

    # THEN all five are queued, listed newest first, and their cost is held
    listed = gateway.get("/v1/tasks", params={"limit": 10}, headers=headers).json()
    assert [item["id"] for item in listed["items"]] == [
        created[feature]["id"] for feature in reversed(FEATURE_UPLOADS)
    ]
    assert {item["status"] for item in listed["items"]} == {"queued"}
    held = sum(task["cost"] for task in created.values())
    assert balance(gateway, headers)["balance"] == start["balance"] - held
    one = created["eraser"]["id"]
    assert gateway.get(f"/v1/tasks/{one}", headers=headers).json() == created["eraser"]

    # WHEN they cancel one and delete another
    canceled = gateway.post(f"/v1/tasks/{one}/cancel", headers=headers)
    deleted = gateway.delete(f"/v1/tasks/{created['cutout']['id']}", headers=headers)

    # THEN the canceled task's and the deleted unfinished task's credits are back
    assert canceled.json()["status"] == "canceled"
    assert deleted.status_code == 204
    returned = created["eraser"]["cost"] + created["cutout"]["cost"]
    assert balance(gateway, headers)["balance"] == start["balance"] - held + returned
    remaining = gateway.get("/v1/tasks", headers=headers).json()["items"]
    assert len(remaining) == 4 and created["cutout"]["id"] not in {t["id"] for t in remaining}


def test_events_stream_through_the_local_gateway(gateway: TestClient) -> None:
    # GIVEN a queued task
    _, headers = new_account()
    photo = upload(gateway, headers, png(4, 4))
    task = gateway.post(
        "/v1/tasks", json={"feature": "cutout", "inputs": {"image": photo}}, headers=headers
    ).json()

    def cancel() -> None:
        gateway.post(f"/v1/tasks/{task['id']}/cancel", headers=headers)

    # WHEN the client follows it as server-sent events and it is canceled meanwhile
    canceler = when_stream_listens(task["id"], cancel)
    with gateway.stream(
        "GET",
        f"/v1/tasks/{task['id']}/events",
        headers={**headers, "Accept": "text/event-stream"},
    ) as response:
        text = "".join(response.iter_text())
    canceler.join()

    # THEN it saw the task queued, then canceled, and the stream ended
    statuses = [
        json.loads(line[6:])["status"] for line in text.splitlines() if line.startswith("data: ")
    ]
    assert statuses == ["queued", "canceled"]
    assert response.headers["x-request-id"]
