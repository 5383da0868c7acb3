"""All five features end to end through the engine with the offline `local` provider and
the real `prepare` normalisation, on the sample pictures the project draws itself (real
MariaDB, Redis and a local storage; the seed's chains skip the vendors without adapters)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from retouch.images import normalize
from retouch.images.inspection import inspect_image
from retouch.providers.local.provider import LocalProvider
from retouch.providers.local.samples import SAMPLE_FORMS, sample_images
from retouch.storage import upload_key
from tests.conftest import Stack
from tests.integration.identity_support import new_account
from tests.integration.pipeline_support import MemoryQueue, Providers, drain, make_engine
from tests.integration.task_support import new_upload, quota, tasks_app

pytestmark = pytest.mark.integration

PARAMS = {"outfit": {"garment_type": "upper"}, "outpaint": {"ratio": "16:9"}}


@pytest.fixture(scope="module")
def samples() -> dict[str, bytes]:
    return sample_images()


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(tasks_app()) as test_client:
        yield test_client


@pytest.mark.parametrize("feature", list(SAMPLE_FORMS))
def test_each_feature_produces_a_real_image_with_the_local_provider(
    client: TestClient, tmp_path: Path, samples: dict[str, bytes], feature: str
) -> None:
    # GIVEN a user whose uploads are the sample pictures of the feature
    queue = MemoryQueue()
    engine = make_engine(tmp_path, Providers(LocalProvider()), queue, normalize=normalize)
    user, headers = new_account()
    before = quota(user["id"])
    inputs: dict[str, object] = dict(PARAMS.get(feature, {}))
    for field, sample in SAMPLE_FORMS[feature].items():
        upload = new_upload(user["id"])
        engine.context.storage.put(
            upload_key(user_id=user["id"], upload_id=upload), samples[sample], "image/png"
        )
        inputs[field] = upload
    created = client.post("/v1/tasks", json={"feature": feature, "inputs": inputs}, headers=headers)
    assert created.status_code == 202, created.text
    task_id = created.json()["id"]

    # WHEN the pipeline runs it
    engine.handle({"task_id": task_id, "step": "prepare", "attempt": 1})
    drain(engine, queue)

    # THEN it succeeded with one stored PNG, and its cost was charged
    task = client.get(f"/v1/tasks/{task_id}", headers=headers).json()
    assert task["status"] == "succeeded", task
    (image,) = task["output"]["images"]
    stored = engine.context.storage.get(f"outputs/{task_id}/0.png")
    header = inspect_image(stored)
    assert (header.width, header.height) == (image["width"], image["height"])
    if feature == "outpaint":
        assert abs(header.width / header.height - 16 / 9) < 0.02
    assert quota(user["id"])["balance"] == before["balance"] - task["cost"]
