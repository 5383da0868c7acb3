"""Issue 13, item 2, replayed on the real stack (MariaDB, Redis, the local storage behind its
gateway route, the upload trigger, the tasks function and the engine): a validated upload
cannot be replaced, a ticket binds its declared size, credentials write one key, and a pixel
bomb is refused before anything decodes it — as an input and as a vendor's result."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from retouch.core.settings import get_settings
from retouch.images import normalize
from retouch.storage import LocalStorage, local_storage
from retouch.uploads.handlers import handle_object_created
from scripts.local.lambda_runtime import load_function
from scripts.local.storage_gateway import storage_routes
from tests.conftest import Stack
from tests.integration.identity_support import new_account
from tests.integration.pipeline_support import (
    MemoryQueue,
    Providers,
    ScriptedProvider,
    drain,
    make_engine,
    task_steps,
)
from tests.integration.task_support import quota, tasks_app
from tests.integration.uploads.upload_support import upload_row
from tests.unit.image_support import png

pytestmark = pytest.mark.integration

SMALL = png(64, 64)
#: A PNG declaring 7100 × 7100 (50.4 MP) in a few dozen bytes: the shape of the issue's probe.
BIG = png(7100, 7100, pixels=False)
#: A PNG declaring 30000 × 30000 (900 MP, 2.7 GB decoded): a pixel bomb.
BOMB = png(30_000, 30_000, pixels=False)


@dataclass
class Stage:
    """The uploads and tasks functions, the storage route whose writes run the trigger, and
    the local storage the engine uses (the same files, without the route's hook)."""

    uploads: TestClient
    tasks: TestClient
    objects: TestClient
    storage: LocalStorage
    root: Path


@pytest.fixture
def stage(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stage]:
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(tmp_path / "objects"))
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_SIGNING_KEY", "k" * 40)
    # Every write through the route hands its object-created event to the upload trigger.
    routes = storage_routes(local_storage(get_settings(), on_object_created=trigger))
    uploads_app = load_function("functions/http/uploads/app.py").app
    with (
        TestClient(uploads_app) as uploads,
        TestClient(tasks_app()) as tasks,
        TestClient(Starlette(routes=routes)) as objects,
    ):
        yield Stage(uploads, tasks, objects, local_storage(get_settings()), tmp_path / "objects")


def trigger(event: dict[str, Any]) -> None:
    handle_object_created(event)


def presign(stage: Stage, headers: dict[str, str], size: int) -> dict[str, Any]:
    body = {"content_type": "image/png", "size": size}
    response = stage.uploads.post("/v1/uploads", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def put(stage: Stage, ticket: dict[str, Any], data: bytes) -> Any:
    url = urlsplit(ticket["url"])
    return stage.objects.put(f"{url.path}?{url.query}", headers=ticket["headers"], content=data)


def ready(stage: Stage, headers: dict[str, str], data: bytes = SMALL) -> dict[str, Any]:
    ticket = presign(stage, headers, len(data))
    assert put(stage, ticket, data).status_code == 200
    assert upload_row(ticket["id"])["status"] == "ready"
    return ticket


class RecordingNormalizer:
    """The real `normalize`, recording every input it was handed."""

    def __init__(self) -> None:
        self.decoded: list[bytes] = []

    def __call__(self, data: bytes) -> bytes:
        self.decoded.append(data)
        return normalize(data)


def run_cutout(
    stage: Stage, headers: dict[str, str], upload_id: str, *providers: ScriptedProvider
) -> tuple[dict[str, Any], RecordingNormalizer]:
    """Create a cutout task of `upload_id` (POST /v1/tasks) and run it through the engine."""
    queue, decoder = MemoryQueue(), RecordingNormalizer()
    engine = make_engine(
        stage.root, Providers(*providers), queue, storage=stage.storage, normalize=decoder
    )
    created = stage.tasks.post(
        "/v1/tasks", json={"feature": "cutout", "inputs": {"image": upload_id}}, headers=headers
    )
    assert created.status_code == 202, created.text
    task_id = created.json()["id"]
    engine.handle({"task_id": task_id, "step": "prepare", "attempt": 1})
    drain(engine, queue)
    task: dict[str, Any] = stage.tasks.get(f"/v1/tasks/{task_id}", headers=headers).json()
    return task, decoder


# --- (1) a ready upload replaced through its own presigned URL --------------------------------


def test_a_big_png_put_to_a_ready_uploads_url_is_refused_and_the_upload_keeps_its_bytes(
    stage: Stage,
) -> None:
    # GIVEN a 64x64 PNG uploaded and ready
    _, headers = new_account()
    ticket = ready(stage, headers)
    before = upload_row(ticket["id"])

    # WHEN a 7100x7100 PNG (larger than the declared size) is PUT to the same URL
    response = put(stage, ticket, BIG + b"\0" * len(SMALL))

    # THEN the signature's size refuses it: nothing stored, the upload unchanged
    assert response.status_code == 413
    assert response.json()["code"] == "UPLOAD_TOO_LARGE"
    assert upload_row(ticket["id"]) == before
    assert (stage.root / before["object_key"]).read_bytes() == SMALL


def test_a_replacement_within_the_declared_size_rejects_the_upload_on_its_event(
    stage: Stage,
) -> None:
    # GIVEN a ready 64x64 upload
    _, headers = new_account()
    ticket = ready(stage, headers)
    key = upload_row(ticket["id"])["object_key"]

    # WHEN the same URL carries a 7100x7100 PNG header padded to the declared size
    replacement = BIG + b"\0" * (len(SMALL) - len(BIG))
    assert put(stage, ticket, replacement).status_code == 200

    # THEN the object-created event re-inspects it: the upload is rejected, the object gone
    row = upload_row(ticket["id"])
    assert (row["status"], row["reject_reason"]) == ("rejected", "changed")
    assert not (stage.root / key).exists()
    # and no task can name it any more
    refused = stage.tasks.post(
        "/v1/tasks", json={"feature": "cutout", "inputs": {"image": ticket["id"]}}, headers=headers
    )
    assert refused.status_code == 422


def test_a_task_never_decodes_an_upload_replaced_after_inspection_and_refunds(
    stage: Stage,
) -> None:
    # GIVEN a ready upload whose bytes are then swapped on the storage with no event (an event
    # that is late, or lost): the 7100x7100 PNG of the probe, padded to the same size
    user, headers = new_account()
    ticket = ready(stage, headers)
    key = upload_row(ticket["id"])["object_key"]
    (stage.root / key).write_bytes(BIG + b"\0" * (len(SMALL) - len(BIG)))
    before = quota(user["id"])
    vendor = ScriptedProvider("tencent", [png(8, 8)])

    # WHEN a task names it and the pipeline runs
    task, decoder = run_cutout(stage, headers, ticket["id"], vendor)

    # THEN prepare refuses it before decoding: the task fails INPUT_UNPROCESSABLE, its credits
    # are returned, no vendor is asked, and the upload is rejected as changed
    assert (task["status"], task["error"]["code"]) == ("failed", "INPUT_UNPROCESSABLE")
    assert decoder.decoded == [] and vendor.submits == 0
    assert quota(user["id"]) == before
    row = upload_row(ticket["id"])
    assert (row["status"], row["reject_reason"]) == ("rejected", "changed")
    # AND nothing the task shows names the probe's size (its times are digits of their own)
    shown = {key: value for key, value in task.items() if not key.endswith("_at")}
    assert "7100" not in json.dumps(shown)


def test_an_untouched_upload_runs_with_the_bytes_inspected(stage: Stage) -> None:
    _, headers = new_account()
    ticket = ready(stage, headers)

    task, decoder = run_cutout(stage, headers, ticket["id"], ScriptedProvider("tencent", [SMALL]))

    assert task["status"] == "succeeded"
    assert decoder.decoded == [SMALL]


# --- (2) a ready upload replaced with its temporary credentials -------------------------------


def test_a_22mb_html_object_written_with_credentials_rejects_the_ready_upload(
    stage: Stage,
) -> None:
    # GIVEN an upload made ready through its credentials
    _, headers = new_account()
    body = {"content_type": "image/png", "size": len(SMALL)}
    credentials = stage.uploads.post("/v1/uploads/credentials", json=body, headers=headers)
    assert credentials.status_code == 201, credentials.text
    issued = credentials.json()
    token = {"X-Retouch-Security-Token": issued["session_token"], "Content-Type": "image/png"}
    assert stage.objects.put(f"/_storage/{issued['key']}", headers=token, content=SMALL).is_success
    assert upload_row(issued["id"])["status"] == "ready"

    # WHEN the same credentials write 22 MB of text/html over it (STS binds no size)
    html = {**token, "Content-Type": "text/html"}
    page = b"<html>" + b"x" * (22 * 1024 * 1024) + b"</html>"
    assert stage.objects.put(f"/_storage/{issued['key']}", headers=html, content=page).is_success

    # THEN the event rejects the upload and deletes the object, unread
    row = upload_row(issued["id"])
    assert (row["status"], row["reject_reason"], row["actual_size"]) == (
        "rejected",
        "changed",
        len(SMALL),
    )
    assert not (stage.root / issued["key"]).exists()


# --- (3) a 1 KB ticket ------------------------------------------------------------------------


def test_a_1kb_ticket_refuses_a_6_3mb_upload_on_local_storage(stage: Stage) -> None:
    _, headers = new_account()
    ticket = presign(stage, headers, 1024)

    response = put(stage, ticket, b"\0" * 6_300_000)
    just_over = put(stage, ticket, b"\0" * 1025)

    assert (response.status_code, just_over.status_code) == (413, 413)
    assert response.json()["code"] == "UPLOAD_TOO_LARGE"
    assert not (stage.root / upload_row(ticket["id"])["object_key"]).exists()
    assert upload_row(ticket["id"])["status"] == "pending"


@pytest.mark.parametrize("backend", ["s3", "cos"])
def test_a_1kb_ticket_binds_1kb_into_the_cloud_post_policy(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    # GIVEN the uploads function on S3 or COS (presigning a POST needs no request to either)
    settings = {
        "s3": {
            "RETOUCH_STORAGE_BUCKET": "retouch-uploads-test",
            "RETOUCH_STORAGE_REGION": "eu-west-1",
            "RETOUCH_STORAGE_UPLOAD_ROLE_ARN": "arn:aws:iam::123456789012:role/retouch-upload",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        },
        "cos": {
            "RETOUCH_STORAGE_BUCKET": "retouch-1250000000",
            "RETOUCH_STORAGE_REGION": "ap-guangzhou",
            "TENCENTCLOUD_SECRETID": "AKIDtesting",
            "TENCENTCLOUD_SECRETKEY": "testing",
        },
    }[backend]
    monkeypatch.setenv("RETOUCH_STORAGE_BACKEND", backend)
    # The form's URL on loopback (nothing is sent to it), so no response names a cloud host.
    monkeypatch.setenv("RETOUCH_STORAGE_ENDPOINT_URL", "http://127.0.0.1:9")
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    _, headers = new_account()

    # WHEN a 1 KB upload is presigned
    with TestClient(load_function("functions/http/uploads/app.py").app) as uploads:
        response = uploads.post(
            "/v1/uploads", json={"content_type": "image/png", "size": 1024}, headers=headers
        )

    # THEN the signed policy allows 1..1024 bytes of image/png to that one key, no more
    assert response.status_code == 201, response.text
    fields = response.json()["fields"]
    conditions = json.loads(base64.b64decode(fields["policy"]))["conditions"]
    assert ["content-length-range", 1, 1024] in conditions
    assert {"Content-Type": "image/png"} in conditions
    assert {"key": fields["key"]} in conditions


# --- (4) pixel bombs --------------------------------------------------------------------------


def test_a_pixel_bomb_upload_is_rejected_from_its_header(stage: Stage) -> None:
    _, headers = new_account()
    ticket = presign(stage, headers, len(BOMB))

    assert put(stage, ticket, BOMB).status_code == 200

    assert upload_row(ticket["id"])["reject_reason"] == "too_many_pixels"


def test_a_pixel_bomb_from_a_vendor_is_not_stored_and_the_next_provider_serves(
    stage: Stage,
) -> None:
    # GIVEN a first vendor answering with a 30000x30000 PNG header, a second with a real image
    _, headers = new_account()
    ticket = ready(stage, headers)
    first, second = ScriptedProvider("tencent", [BOMB]), ScriptedProvider("runninghub", [SMALL])

    # WHEN the task runs
    task, _ = run_cutout(stage, headers, ticket["id"], first, second)

    # THEN the bomb is a bad result of the first vendor's: the second one's image is served
    assert task["status"] == "succeeded"
    (image,) = task["output"]["images"]
    assert (image["width"], image["height"]) == (64, 64)
    generate = next(step for step in task_steps(task["id"]) if step["step"] == "generate")
    fallbacks = json.loads(generate["fallbacks"])
    assert [(f["provider"], f["code"]) for f in fallbacks] == [("tencent", "BAD_RESULT")]
    assert "30000x30000 is more than" in fallbacks[0]["detail"]
    outputs = list((stage.root / "outputs" / task["id"]).iterdir())
    assert [path.read_bytes() for path in outputs] == [SMALL]
