"""Uploads through the local stack: presign, PUT the bytes, and the upload trigger marks the
upload `ready` or `rejected` (real MariaDB, Redis and file system)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.testclient import TestClient

from retouch.core.db import get_database
from retouch.storage import cos_object_created_event
from scripts.local.gateway import create_gateway
from scripts.local.lambda_runtime import FakeLambdaContext
from scripts.local.sam import load_handler, load_template
from scripts.local.servers import free_port
from tests.conftest import Stack, load_event
from tests.integration.identity_support import new_account
from tests.integration.uploads.upload_support import upload_row
from tests.unit.image_support import jpeg, png, webp_lossless

pytestmark = pytest.mark.integration

UPLOAD_ID = r"^upl_[A-Za-z0-9_-]{22}$"


# --- the stack ------------------------------------------------------------------------------


@pytest.fixture
def client(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(tmp_path / "objects"))
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_SIGNING_KEY", "k" * 40)
    monkeypatch.setenv("RETOUCH_UPLOAD_MAX_BYTES", "65536")
    with TestClient(create_gateway(load_template())) as test_client:
        yield test_client


def presign(
    client: TestClient, headers: dict[str, str], content_type: str, size: int
) -> dict[str, Any]:
    response = client.post(
        "/v1/uploads", json={"content_type": content_type, "size": size}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def put(client: TestClient, ticket: dict[str, Any], data: bytes) -> int:
    url = urlsplit(ticket["url"])
    response = client.put(f"{url.path}?{url.query}", headers=ticket["headers"], content=data)
    return int(response.status_code)


def object_path(tmp_path: Path, key: str) -> Path:
    return tmp_path / "objects" / key


# --- tests ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "data", "size"),
    [
        ("image/png", png(3, 2), (3, 2)),
        ("image/jpeg", jpeg(640, 480), (640, 480)),
        ("image/webp", webp_lossless(17, 9), (17, 9)),
    ],
    ids=["png", "jpeg", "webp"],
)
def test_a_real_image_uploaded_with_the_presigned_url_becomes_ready_with_its_dimensions(
    client: TestClient, tmp_path: Path, content_type: str, data: bytes, size: tuple[int, int]
) -> None:
    # GIVEN a presigned upload of a signed-in user
    user, headers = new_account()
    ticket = presign(client, headers, content_type, len(data))

    # WHEN the client PUTs the image to the URL (the gateway's storage hook runs the trigger)
    assert put(client, ticket, data) == 200

    # THEN the upload is ready with the header's dimensions, in the user's own prefix
    row = upload_row(ticket["id"])
    assert (row["status"], row["width"], row["height"]) == ("ready", *size)
    assert row["actual_size"] == len(data)
    assert row["object_key"] == f"uploads/{user['id']}/{ticket['id']}"
    assert object_path(tmp_path, row["object_key"]).read_bytes() == data


def test_the_owner_reads_the_upload_pending_then_ready_and_nobody_else_can(
    client: TestClient,
) -> None:
    # GIVEN an upload presigned but not yet sent, and another user
    _, headers = new_account()
    _, other_headers = new_account()
    data = png(5, 4)
    ticket = presign(client, headers, "image/png", len(data))
    pending = client.get(f"/v1/uploads/{ticket['id']}", headers=headers).json()

    # WHEN the image is sent (the trigger checks it)
    assert put(client, ticket, data) == 200

    # THEN its owner sees it ready with its dimensions; anyone else gets 404
    ready = client.get(f"/v1/uploads/{ticket['id']}", headers=headers).json()
    assert (pending["status"], pending["width"]) == ("pending", None)
    assert (ready["status"], ready["width"], ready["height"], ready["size"]) == (
        "ready",
        5,
        4,
        len(data),
    )
    assert client.get(f"/v1/uploads/{ticket['id']}", headers=other_headers).status_code == 404
    assert client.get("/v1/uploads/upl_short", headers=headers).status_code == 404


def test_upload_ids_are_opaque_public_ids_and_nothing_internal_is_returned(
    client: TestClient,
) -> None:
    _, headers = new_account()

    ticket = presign(client, headers, "image/png", 100)

    assert re.fullmatch(UPLOAD_ID, ticket["id"])
    assert set(ticket) == {"id", "method", "url", "headers", "fields", "expires_at"}
    assert ticket["method"] == "PUT"
    assert ticket["fields"] == {}
    assert "user_id" not in json.dumps(ticket)


@pytest.mark.parametrize(
    "body",
    [
        {"content_type": "image/gif", "size": 100},
        {"content_type": "text/html", "size": 100},
        {"content_type": "image/png", "size": 65537},
        {"content_type": "image/png", "size": 0},
        {"content_type": "image/png"},
    ],
    ids=["gif", "html", "too-large", "empty", "no-size"],
)
def test_an_unsupported_type_or_size_is_refused_with_422_and_records_nothing(
    client: TestClient, body: dict[str, Any]
) -> None:
    user, headers = new_account()

    response = client.post("/v1/uploads", json=body, headers=headers)

    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_FAILED"
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM uploads u JOIN users s ON s.id = u.user_id "
            "WHERE s.public_id = %s",
            (user["id"],),
        )
    assert row is not None and row["n"] == 0


def test_uploads_need_a_signed_in_user(client: TestClient) -> None:
    response = client.post("/v1/uploads", json={"content_type": "image/png", "size": 10})
    credentials = client.post("/v1/uploads/credentials")

    assert (response.status_code, credentials.status_code) == (401, 401)


def credentials_for(
    client: TestClient, headers: dict[str, str], content_type: str, size: int
) -> dict[str, Any]:
    body = {"content_type": content_type, "size": size}
    response = client.post("/v1/uploads/credentials", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def test_credentials_write_their_own_upload_key_and_nothing_else(
    client: TestClient, tmp_path: Path
) -> None:
    # GIVEN two users; Alice has another upload, and credentials for a new one
    alice, alice_headers = new_account()
    bob, _ = new_account()
    other = upload_row(presign(client, alice_headers, "image/png", 100)["id"])["object_key"]
    credentials = credentials_for(client, alice_headers, "image/png", len(png(2, 2)))
    key = credentials["key"]
    assert key == f"uploads/{alice['id']}/{credentials['id']}"
    assert "prefix" not in credentials

    # WHEN they are used for her other upload, a key of her prefix with no upload, Bob's
    # prefix, and the key they were issued for
    token = {"X-Retouch-Security-Token": credentials["session_token"], "Content-Type": "image/png"}
    sibling = client.put(f"/_storage/{other}", headers=token, content=png(2, 2))
    unannounced = client.put(
        f"/_storage/uploads/{alice['id']}/upl_{'N' * 22}", headers=token, content=png(2, 2)
    )
    elsewhere = client.put(f"/_storage/uploads/{bob['id']}/upl_x", headers=token, content=b"x")
    own = client.put(f"/_storage/{key}", headers=token, content=png(2, 2))

    # THEN only their own key accepts them, and that upload becomes ready as any other
    assert (sibling.status_code, unannounced.status_code, elsewhere.status_code) == (403, 403, 403)
    assert own.status_code == 200
    assert not object_path(tmp_path, other).exists()
    assert not object_path(tmp_path, f"uploads/{bob['id']}/upl_x").exists()
    assert upload_row(credentials["id"])["status"] == "ready"


def test_a_presigned_url_cannot_be_moved_to_another_users_prefix(client: TestClient) -> None:
    _, headers = new_account()
    bob, _ = new_account()
    ticket = presign(client, headers, "image/png", 100)
    url = urlsplit(ticket["url"])
    other = url.path.replace(url.path.split("/")[3], bob["id"])

    response = client.put(f"{other}?{url.query}", headers=ticket["headers"], content=png(1, 1))

    assert response.status_code == 403


def test_a_file_claiming_png_that_is_not_an_image_is_rejected_and_deleted(
    client: TestClient, tmp_path: Path
) -> None:
    _, headers = new_account()
    data = b"<html><script>alert(1)</script></html>"
    ticket = presign(client, headers, "image/png", len(data))

    assert put(client, ticket, data) == 200

    row = upload_row(ticket["id"])
    assert (row["status"], row["reject_reason"]) == ("rejected", "not_an_image")
    assert not object_path(tmp_path, row["object_key"]).exists()


def test_an_image_of_another_type_than_declared_is_rejected(
    client: TestClient, tmp_path: Path
) -> None:
    _, headers = new_account()
    data = jpeg(10, 10)
    ticket = presign(client, headers, "image/png", len(data))

    assert put(client, ticket, data) == 200

    assert upload_row(ticket["id"])["reject_reason"] == "type_mismatch"


def test_a_20000_by_20000_png_bomb_is_rejected_from_its_header(
    client: TestClient, tmp_path: Path
) -> None:
    # GIVEN a PNG whose header declares 400 megapixels (the file itself is tiny)
    _, headers = new_account()
    bomb = png(20_000, 20_000, pixels=False)
    assert len(bomb) < 100
    ticket = presign(client, headers, "image/png", len(bomb))

    # WHEN it is uploaded
    assert put(client, ticket, bomb) == 200

    # THEN it is rejected without decoding, and deleted
    row = upload_row(ticket["id"])
    assert (row["status"], row["reject_reason"]) == ("rejected", "too_many_pixels")
    assert row["width"] is None
    assert not object_path(tmp_path, row["object_key"]).exists()


def test_a_redelivered_event_changes_nothing(client: TestClient, tmp_path: Path) -> None:
    # GIVEN an upload the trigger has marked ready
    _, headers = new_account()
    data = png(4, 4)
    ticket = presign(client, headers, "image/png", len(data))
    assert put(client, ticket, data) == 200
    before = upload_row(ticket["id"])

    # WHEN the same object-created event arrives again (at-least-once delivery)
    event = cos_object_created_event(
        appid="1250000000",
        bucket="retouch-local",
        region="local",
        key=before["object_key"],
        size=len(data),
        content_type="image/png",
        event_time=0,
    )
    handler = load_handler(load_template().function("UploadTriggerFunction"))
    result = handler(event, FakeLambdaContext())

    # THEN nothing changes
    assert result == {"results": ["unchanged"]}
    assert upload_row(ticket["id"]) == before


@pytest.mark.parametrize(
    "event_file", ["upload_trigger_aws_s3.json", "upload_trigger_scf_cos.json"]
)
def test_the_trigger_ignores_events_for_unknown_or_invalid_keys(
    stack: Stack, event_file: str
) -> None:
    handler = load_handler(load_template().function("UploadTriggerFunction"))
    event = load_event(event_file)
    assert handler(event, FakeLambdaContext()) == {"results": ["ignored"]}

    text = json.dumps(event).replace("uploads/usr_SampleEventUser000000000", "uploads/..")
    assert handler(json.loads(text), FakeLambdaContext()) == {"results": ["ignored"]}
    assert handler({"Records": "nope"}, FakeLambdaContext()) == {"results": []}


def test_an_object_above_the_declared_size_is_rejected_without_being_read(
    client: TestClient, tmp_path: Path
) -> None:
    # GIVEN credentials for a 100-byte upload (STS binds no size, unlike the presigned URL)
    _, headers = new_account()
    credentials = credentials_for(client, headers, "image/png", 100)
    key = credentials["key"]

    # WHEN an object of 70 kB (above the declared size and RETOUCH_UPLOAD_MAX_BYTES) arrives
    response = client.put(
        f"/_storage/{key}",
        headers={"X-Retouch-Security-Token": credentials["session_token"]},
        content=png(1, 1) + b"\x00" * 70_000,
    )

    # THEN the upload is rejected as too large and the object deleted
    assert response.status_code == 200
    row = upload_row(credentials["id"])
    assert (row["status"], row["reject_reason"], row["actual_size"]) == (
        "rejected",
        "too_large",
        len(png(1, 1)) + 70_000,
    )
    assert not object_path(tmp_path, key).exists()


def test_upload_routes_are_rate_limited(client: TestClient) -> None:
    _, headers = new_account()

    response = client.post(
        "/v1/uploads", json={"content_type": "image/png", "size": 10}, headers=headers
    )

    assert response.status_code == 201
    assert int(response.headers["RateLimit-Limit"]) > 0
    assert "RateLimit-Remaining" in response.headers


def test_credentials_when_the_storage_sts_is_down_are_a_503_problem(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the s3 backend whose STS endpoint nobody serves
    for name, value in {
        "RETOUCH_STORAGE_BACKEND": "s3",
        "RETOUCH_STORAGE_BUCKET": "retouch-uploads-test",
        "RETOUCH_STORAGE_REGION": "eu-west-1",
        "RETOUCH_STORAGE_UPLOAD_ROLE_ARN": "arn:aws:iam::123456789012:role/retouch-upload",
        "RETOUCH_STORAGE_STS_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    _, headers = new_account()

    with TestClient(create_gateway(load_template()), raise_server_exceptions=False) as client:
        response = client.post(
            "/v1/uploads/credentials",
            json={"content_type": "image/png", "size": 100},
            headers=headers,
        )

    # THEN the client is told to retry later, in the problem format, without the cause
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert "127.0.0.1" not in response.text and "sts" not in response.text.lower()
