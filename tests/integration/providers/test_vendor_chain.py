"""Issue 7's "done when": every feature's chain `[runninghub, tencent, local]` through the whole
pipeline against the loopback fakes of both vendors — providers built the way the step
functions build them (`provider_configs` rows → `PROVIDER_FACTORIES`, credentials resolved
from `credential_ref`, options validated by the kind's model) — served by RunningHub, by
Tencent when RunningHub fails, and by `local` when both fail; charged once every time."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from retouch.catalog.repository import MySQLFeatureRepository, MySQLProviderRepository
from retouch.catalog.schemas import ProviderWrite
from retouch.catalog.service import add_pipeline_version, save_provider
from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.images import normalize
from retouch.pipeline.factories import PROVIDER_FACTORIES
from retouch.pipeline.fetch import fetch_result
from retouch.pipeline.sources import ConfiguredProviders
from retouch.providers.local.samples import SAMPLE_FORMS, sample_images
from retouch.storage import upload_key
from tests.conftest import Stack
from tests.integration.cos_fake import SECRET_ID, SECRET_KEY
from tests.integration.identity_support import new_account
from tests.integration.pipeline_support import (
    MemoryQueue,
    drain,
    local_storage,
    make_engine,
    task_steps,
)
from tests.integration.quota_support import assert_ledger_matches
from tests.integration.runninghub_fake import API_KEY, FakeRunningHub, answer, html_page
from tests.integration.task_support import new_upload, quota, tasks_app, user_internal_id
from tests.integration.tencent_ai_fake import FakeTencentAI, error, running_fake_tencent_ai

pytestmark = pytest.mark.integration

FEATURES = ("cutout", "eraser", "outfit", "faceswap", "outpaint")
CHAIN = ["runninghub", "tencent", "local"]
RETRIES = 1
#: The form fields that are not uploads, per feature.
PARAMS: dict[str, dict[str, Any]] = {
    "outfit": {"garment_type": "upper"},
    "outpaint": {"ratio": "16:9"},
}
#: Which Tencent action serves each feature (what the fake is told to fail).
ACTIONS = {
    "cutout": "SegmentPortraitPic",
    "eraser": "ImageInpaintingRemoval",
    "outfit": "ChangeClothes",
    "faceswap": "FuseFaceUltra",
    "outpaint": "ImageOutpainting",
}


def runninghub_options() -> dict[str, Any]:
    """A workflow per feature: each upload field into a LoadImage node, params into theirs."""
    features = {}
    for n, (feature, uploads) in enumerate(SAMPLE_FORMS.items()):
        features[feature] = {
            "mode": "workflow",
            "workflow_id": f"19{n}",
            "images": {
                field: {"node_id": str(10 + i), "field_name": "image"}
                for i, field in enumerate(uploads)
            },
            "params": {
                name: {"node_id": "20", "field_name": name} for name in PARAMS.get(feature, {})
            },
        }
    return {"features": features}


@pytest.fixture
def tencent_fake() -> Iterator[FakeTencentAI]:
    with running_fake_tencent_ai() as running:
        yield running


@pytest.fixture
def vendors(
    stack: Stack,
    monkeypatch: pytest.MonkeyPatch,
    runninghub: FakeRunningHub,
    tencent_fake: FakeTencentAI,
) -> Iterator[None]:
    """The seed's `runninghub` and `tencent` rows pointed at the fakes (restored after), their
    secrets in `RETOUCH_SECRET_*` variables, every feature's chain `[runninghub, tencent,
    local]`, and no breaker or slot left from elsewhere."""
    monkeypatch.setenv("RETOUCH_SECRET_RUNNINGHUB", API_KEY)
    tencent_keys = {"secret_id": SECRET_ID, "secret_key": SECRET_KEY}
    monkeypatch.setenv("RETOUCH_SECRET_TENCENT", json.dumps(tencent_keys))
    database = get_database()
    with database.read_only() as uow:
        repo = MySQLProviderRepository(uow)
        originals = [repo.get(key) for key in ("runninghub", "tencent")]
        current = {feature: MySQLFeatureRepository(uow).get(feature) for feature in FEATURES}
    rows = [
        ProviderWrite(
            key="runninghub",
            kind="runninghub",
            endpoint=runninghub.url,
            credential_ref="env:RETOUCH_SECRET_RUNNINGHUB",
            options=runninghub_options(),
            concurrency_limit=5,
        ),
        ProviderWrite(
            key="tencent",
            kind="tencent",
            endpoint=tencent_fake.url,
            credential_ref="env:RETOUCH_SECRET_TENCENT",
            options={},
            concurrency_limit=5,
        ),
    ]
    for row in rows:
        save_provider(database=database, provider=row)
    steps = [
        {"step": "prepare"},
        {"step": "generate", "providers": CHAIN, "timeout_s": 60, "retries": RETRIES},
        {"step": "store"},
    ]
    for feature in FEATURES:
        add_pipeline_version(
            database=database, feature_key=feature, steps=steps, created_by=None, make_current=True
        )
    guards = [f"{kind}:{{{key}}}{suffix}" for key in CHAIN for kind, suffix in
              (("breaker", ":open"), ("breaker", ":failures"), ("slots", ""))]  # fmt: skip
    get_redis().delete(*guards)
    yield
    get_redis().delete(*guards)
    with database.unit_of_work() as uow:
        for feature, read in current.items():
            assert read is not None and read.pipeline_version is not None
            MySQLFeatureRepository(uow).set_current(
                feature, kind="pipeline", version=read.pipeline_version
            )
        for original in originals:
            assert original is not None
            MySQLProviderRepository(uow).upsert(
                ProviderWrite.model_validate(original.model_dump(exclude={"updated_at"}))
            )
        uow.commit()


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(tasks_app()) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def samples() -> dict[str, bytes]:
    return sample_images()


Runner = Callable[[str], tuple[str, str, list[str]]]


@pytest.fixture
def run_feature(
    vendors: None, client: TestClient, tmp_path: Path, samples: dict[str, bytes]
) -> Runner:
    """Runs one task of `feature` to its end; returns its status, the provider that served
    its generate step and the providers it fell back from; checks its credits and output."""
    storage = local_storage(tmp_path, base_url="https://files.retouch.test/_storage")
    queue = MemoryQueue()
    providers = ConfiguredProviders(get_database(), PROVIDER_FACTORIES)
    engine = make_engine(
        tmp_path, providers, queue, normalize=normalize, storage=storage, fetch=fetch_result
    )

    def run(feature: str) -> tuple[str, str, list[str]]:
        user, headers = new_account()
        before = quota(user["id"])
        inputs: dict[str, Any] = dict(PARAMS.get(feature, {}))
        for field, sample in SAMPLE_FORMS[feature].items():
            upload = new_upload(user["id"])
            storage.put(
                upload_key(user_id=user["id"], upload_id=upload), samples[sample], "image/png"
            )
            inputs[field] = upload
        created = client.post(
            "/v1/tasks", json={"feature": feature, "inputs": inputs}, headers=headers
        )
        assert created.status_code == 202, created.text
        task_id = created.json()["id"]
        engine.handle({"task_id": task_id, "step": "prepare", "attempt": 1})
        drain(engine, queue)
        task = client.get(f"/v1/tasks/{task_id}", headers=headers).json()
        (generate,) = [s for s in task_steps(task_id) if s["step"] == "generate"]
        fallbacks = [f["provider"] for f in json.loads(generate["fallbacks"] or "[]")]
        after = quota(user["id"])
        assert after["reserved"] == 0
        assert after["balance"] == before["balance"] - created.json()["cost"]
        assert_ledger_matches(get_database(), user_internal_id(user["id"]))
        outputs = list((tmp_path / "outputs" / task_id).rglob("*.png"))
        assert len(outputs) == 1 and outputs[0].read_bytes().startswith(b"\x89PNG")
        return task["status"], str(generate["provider_key"]), fallbacks

    return run


@pytest.mark.parametrize("feature", FEATURES)
def test_runninghub_serves_first(
    run_feature: Runner, runninghub: FakeRunningHub, tencent_fake: FakeTencentAI, feature: str
) -> None:
    assert run_feature(feature) == ("succeeded", "runninghub", [])
    (create,) = runninghub.bodies("/task/openapi/create")
    inputs = {(node["nodeId"], node["fieldName"]) for node in create["nodeInfoList"]}
    assert len(inputs) == len(SAMPLE_FORMS[feature]) + len(PARAMS.get(feature, {}))
    assert tencent_fake.actions() == []


@pytest.mark.parametrize("feature", FEATURES)
def test_tencent_serves_when_runninghub_fails(
    run_feature: Runner, runninghub: FakeRunningHub, tencent_fake: FakeTencentAI, feature: str
) -> None:
    runninghub.script("/task/openapi/create", *[html_page(502)] * (RETRIES + 1))

    assert run_feature(feature) == ("succeeded", "tencent", ["runninghub"])
    assert len(runninghub.bodies("/task/openapi/create")) == RETRIES + 1
    assert tencent_fake.actions() == [ACTIONS[feature]]


@pytest.mark.parametrize("feature", FEATURES)
def test_local_serves_when_both_vendors_fail(
    run_feature: Runner, runninghub: FakeRunningHub, tencent_fake: FakeTencentAI, feature: str
) -> None:
    runninghub.script("/task/openapi/create", answer(802, msg="APIKEY_UNAUTHORIZED"))
    tencent_fake.script(ACTIONS[feature], *[error("FailedOperation.GenerateImageFailed")] * 2)

    assert run_feature(feature) == ("succeeded", "local", ["runninghub", "tencent"])
    assert tencent_fake.actions() == [ACTIONS[feature]] * (RETRIES + 1)


def test_a_vendor_whose_secret_cannot_be_read_is_skipped(
    run_feature: Runner, monkeypatch: pytest.MonkeyPatch, runninghub: FakeRunningHub
) -> None:
    monkeypatch.delenv("RETOUCH_SECRET_RUNNINGHUB")

    assert run_feature("cutout") == ("succeeded", "tencent", ["runninghub"])
    assert runninghub.requests == []


def rewrite_row(key: str, **changes: str) -> None:
    """Change a provider's stored row straight in the table (as before the admin API's
    rules, or by hand), bypassing every check of the API."""
    with get_database().unit_of_work() as uow:
        repository = MySQLProviderRepository(uow)
        row = repository.get(key)
        assert row is not None
        repository.upsert(
            ProviderWrite.model_validate({**row.model_dump(exclude={"updated_at"}), **changes})
        )
        uow.commit()


def test_a_row_naming_another_providers_secret_reads_nothing_and_is_skipped(
    run_feature: Runner, runninghub: FakeRunningHub
) -> None:
    # GIVEN a runninghub row written straight to the table (before the admin API's rule, or
    # by hand) naming tencent's secret, which is really there
    rewrite_row("runninghub", credential_ref="env:RETOUCH_SECRET_TENCENT")

    # THEN runninghub cannot be built: the chain moves on and RunningHub is never called
    assert run_feature("cutout") == ("succeeded", "tencent", ["runninghub"])
    assert runninghub.requests == []


def test_a_row_pointing_at_the_metadata_service_is_never_built_and_is_skipped(
    run_feature: Runner, runninghub: FakeRunningHub
) -> None:
    # GIVEN a runninghub row written straight to the table (before the allowlist, or by
    # hand) pointing at the cloud's metadata service
    rewrite_row("runninghub", endpoint="http://169.254.169.254/latest")

    # THEN its adapter is not built: the chain moves on without a request
    assert run_feature("cutout") == ("succeeded", "tencent", ["runninghub"])
    assert runninghub.requests == []
