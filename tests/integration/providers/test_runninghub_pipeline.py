"""Whole cutout tasks through the real engine (MariaDB, Redis, a local storage, the in-memory
queue) with the chain `[runninghub, local]`: the RunningHub adapter talks to the loopback fake
of its API, `local` is the real offline provider, and `store` fetches results over HTTP with
the real `fetch_result`. Whatever RunningHub does wrong, the task ends — served by `local`
and charged once, or refused — and a webhook is only a prompt to ask `/outputs`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from retouch.catalog.repository import MySQLFeatureRepository
from retouch.catalog.service import add_pipeline_version
from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.pipeline.callbacks import receive_callback
from retouch.pipeline.fetch import fetch_result
from retouch.providers.http import Timeouts
from retouch.providers.local.provider import LocalProvider
from retouch.providers.runninghub import RunningHubProvider
from retouch.providers.runninghub_options import RunningHubOptions
from retouch.storage import LocalStorage
from scripts.local.servers import serving_app
from scripts.local.storage_gateway import storage_routes
from tests.conftest import Stack
from tests.integration.engine_support import Run as EngineRun
from tests.integration.pipeline_support import (
    drain,
    local_storage,
)
from tests.integration.runninghub_fake import (
    API_KEY as KEY,
)
from tests.integration.runninghub_fake import (
    RESULT,
    FakeRunningHub,
    Reply,
    answer,
    created,
    failed,
    html_page,
    outputs,
    webhook,
)
from tests.integration.task_support import quota, tasks_app
from tests.unit.image_support import png

pytestmark = pytest.mark.integration

PICTURE = png(64, 48)
CREATE, OUTPUTS = "/task/openapi/create", "/task/openapi/outputs"
PUBLIC_URL = "https://api.example.test"
RETRIES = 1  # each fault is met twice (an attempt and its retry) before the fallback
STEPS: list[dict[str, Any]] = [
    {"step": "prepare"},
    {"step": "generate", "providers": ["runninghub", "local"], "timeout_s": 60, "retries": 1},
    {"step": "store"},
]
OPTIONS = RunningHubOptions.model_validate(
    {
        "features": {
            "cutout": {
                "mode": "workflow",
                "workflow_id": "1850000000000000001",
                "images": {"image": {"node_id": "10", "field_name": "image"}},
            }
        }
    }
)


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(tasks_app()) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def cutout_on_runninghub(stack: Stack) -> Iterator[None]:
    """Cutout's chain is `[runninghub, local]` (breakers closed); the seeded version is
    current again afterwards."""
    redis, database = get_redis(), get_database()
    keys = [f"breaker:{{{p}}}:{k}" for p in ("runninghub", "local") for k in ("open", "failures")]
    redis.delete(*keys)
    with database.read_only() as uow:
        feature = MySQLFeatureRepository(uow).get("cutout")
    assert feature is not None and feature.pipeline_version is not None
    add_pipeline_version(
        database=database, feature_key="cutout", steps=STEPS, created_by=None, make_current=True
    )
    yield
    with database.unit_of_work() as uow:
        MySQLFeatureRepository(uow).set_current(
            "cutout", kind="pipeline", version=feature.pipeline_version
        )
        uow.commit()
    redis.delete(*keys)


class Run(EngineRun):
    """One user's cutout task, run by an engine over `[runninghub, local]` (`store` fetches
    results with the real `fetch_result`)."""

    def __init__(
        self,
        client: TestClient,
        tmp_path: Path,
        runninghub: FakeRunningHub,
        *,
        options: RunningHubOptions = OPTIONS,
        storage: LocalStorage | None = None,
        callback_base_url: str | None = None,
    ) -> None:
        timeouts = Timeouts(connect_s=1, read_s=0.5)
        self.provider = RunningHubProvider(runninghub.url, KEY, options, timeouts)
        self.root = tmp_path
        super().__init__(
            client, tmp_path, self.provider, LocalProvider(),
            picture=PICTURE, fetch=fetch_result, storage=storage,
            callback_base_url=callback_base_url,
        )  # fmt: skip

    def start(self) -> None:
        self.engine.handle({"task_id": self.task_id, "step": "prepare", "attempt": 1})

    def run(self, *, copies: int = 1) -> dict[str, Any]:
        task = super().run(copies=copies)
        self.provider.close()
        return task

    def generate(self) -> dict[str, Any]:
        (step,) = [s for s in self.steps() if s["step"] == "generate"]
        return {**step, "fallbacks": json.loads(step["fallbacks"] or "[]")}

    def outputs(self) -> list[bytes]:
        folder = self.root / "outputs" / self.task_id
        return [path.read_bytes() for path in sorted(folder.iterdir())]


def test_runninghub_serves_the_task_and_the_stored_output_is_its_image(
    client: TestClient, tmp_path: Path, runninghub: FakeRunningHub
) -> None:
    runninghub.script(OUTPUTS, answer(813), answer(804))
    run = Run(client, tmp_path, runninghub)

    task = run.run()

    assert task["status"] == "succeeded"
    assert run.generate()["provider_key"] == "runninghub"
    assert run.generate()["fallbacks"] == []
    assert run.outputs() == [RESULT]
    assert run.charged()
    # the vendor got a presigned URL of our prepared input, and was polled until done
    (create,) = runninghub.bodies(CREATE)
    (node,) = create["nodeInfoList"]
    assert node["nodeId"] == "10" and node["fieldValue"].startswith(
        f"http://127.0.0.1:8000/_storage/work/{run.task_id}/in-image.png"
    )
    assert len(runninghub.bodies(OUTPUTS)) == 3
    # nothing of the vendor's (its task id, its URLs) reaches the task's response
    assert create and runninghub.url not in json.dumps(task)
    assert runninghub.bodies(OUTPUTS)[0]["taskId"] not in json.dumps(task)


FAULTS = {
    "create-html-page": (CREATE, html_page(502)),
    "create-malformed-json": (CREATE, Reply(b'{"code": 0, "data": {"taskId"')),
    "create-hangs": (CREATE, Reply(hang=True)),
    "job-failed": (OUTPUTS, failed()),
    "success-without-files": (OUTPUTS, answer(0, [])),
    "unexpected-status-value": (OUTPUTS, answer(0, "SUCCESS")),
    "result-off-the-hosts": (OUTPUTS, outputs("http://169.254.169.254/latest/meta-data/")),
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_runninghub_fault_falls_back_to_local_and_the_task_is_charged_once(
    client: TestClient, tmp_path: Path, runninghub: FakeRunningHub, fault: str
) -> None:
    path, reply = FAULTS[fault]
    runninghub.script(path, *[reply] * (RETRIES + 1))
    run = Run(client, tmp_path, runninghub)

    task = run.run()

    assert task["status"] == "succeeded", task
    generate = run.generate()
    assert generate["provider_key"] == "local"
    assert [f["provider"] for f in generate["fallbacks"]] == ["runninghub"]
    assert generate["fallbacks"][0]["code"] == "ProviderRetryable"
    assert len(runninghub.bodies(CREATE)) == RETRIES + 1
    assert run.outputs() != [RESULT] and len(run.outputs()) == 1
    assert run.charged()


@pytest.mark.parametrize(
    "reply",
    [
        answer(802, msg="APIKEY_UNAUTHORIZED"),
        answer(812, msg="CORPAPIKEY_INSUFFICIENT_FUNDS"),
        answer(380, msg="WORKFLOW_NOT_EXISTS"),
    ],
    ids=["wrong-key", "no-funds", "no-workflow"],
)
def test_an_account_or_configuration_fault_falls_back_at_once(
    client: TestClient, tmp_path: Path, runninghub: FakeRunningHub, reply: Reply
) -> None:
    # GIVEN RunningHub refusing our key, our funds or our workflow id
    runninghub.script(CREATE, *[reply] * (RETRIES + 1))
    run = Run(client, tmp_path, runninghub)

    task = run.run()

    # THEN no retry is spent on it: local serves after one request, charged once
    assert task["status"] == "succeeded", task
    generate = run.generate()
    assert generate["provider_key"] == "local"
    assert [(f["provider"], f["code"]) for f in generate["fallbacks"]] == [
        ("runninghub", "ProviderUnavailable")
    ]
    assert len(runninghub.bodies(CREATE)) == 1
    assert run.charged()


def test_an_upload_feature_uploads_the_prepared_input_read_from_our_storage(
    client: TestClient, tmp_path: Path, runninghub: FakeRunningHub
) -> None:
    # GIVEN cutout configured to upload its image, and our storage served on loopback
    cutout = OPTIONS.features["cutout"].model_copy(update={"upload": True})
    options = OPTIONS.model_copy(update={"features": {"cutout": cutout}})
    storage = local_storage(tmp_path)
    with serving_app(Starlette(routes=storage_routes(storage))) as storage_url:
        storage.base_url = f"{storage_url}/_storage"
        run = Run(client, tmp_path, runninghub, options=options, storage=storage)

        # WHEN the task runs
        task = run.run()

    # THEN RunningHub got our prepared input as a file, named in the task it ran
    assert task["status"] == "succeeded"
    ((name, uploaded),) = runninghub.uploads.items()
    assert uploaded == (tmp_path / "work" / run.task_id / "in-image.png").read_bytes()
    (create,) = runninghub.bodies(CREATE)
    assert create["nodeInfoList"] == [{"nodeId": "10", "fieldName": "image", "fieldValue": name}]
    assert run.outputs() == [RESULT]
    assert run.charged()


def test_a_feature_runninghub_is_not_configured_for_falls_back_without_a_request(
    client: TestClient, tmp_path: Path, runninghub: FakeRunningHub
) -> None:
    run = Run(client, tmp_path, runninghub, options=RunningHubOptions())

    task = run.run()

    assert task["status"] == "succeeded"
    assert run.generate()["provider_key"] == "local"
    assert "not configured" in run.generate()["fallbacks"][0]["detail"]
    assert runninghub.requests == []
    assert run.charged()


def test_node_errors_refuse_the_input_and_refund_without_leaking_the_vendor(
    client: TestClient, tmp_path: Path, runninghub: FakeRunningHub
) -> None:
    runninghub.script(
        CREATE, created("4242", node_errors={"10": {"errors": ["Invalid image file"]}})
    )
    run = Run(client, tmp_path, runninghub)

    task = run.run()

    assert (task["status"], task["error"]["code"]) == ("failed", "INPUT_UNPROCESSABLE")
    assert "Invalid image file" not in json.dumps(task) and "4242" not in json.dumps(task)
    assert quota(run.user["id"]) == run.before
    assert runninghub.bodies("/task/openapi/cancel") == [{"apiKey": KEY, "taskId": "4242"}]


def test_webhooks_need_the_jobs_token_and_only_prompt_a_poll_of_outputs(
    client: TestClient, tmp_path: Path, runninghub: FakeRunningHub
) -> None:
    # GIVEN a task whose RunningHub job is still running (the first two polls say so)
    runninghub.script(OUTPUTS, answer(804), answer(804))
    run = Run(client, tmp_path, runninghub, callback_base_url=PUBLIC_URL)
    run.start()
    for _ in range(2):  # generate: submit, then its first poll (pending)
        _, body = run.queue.sent.popleft()
        run.engine.handle(dict(body))
    own_poll = run.queue.sent.popleft()  # the job's next poll, delayed: the test plays the clock
    waiting = run.generate()
    (task_id,) = {body["taskId"] for body in runninghub.bodies(OUTPUTS)}
    (create,) = runninghub.bodies(CREATE)
    token = create["webhookUrl"].removeprefix(f"{PUBLIC_URL}/v1/callbacks/runninghub/")
    forged = webhook(
        task_id,
        {"code": 0, "data": [{"fileUrl": "http://169.254.169.254/x.png", "fileType": "png"}]},
    )

    def deliver(body: bytes, *, with_token: str = token) -> str:
        return receive_callback(
            run.engine, provider_key="runninghub", token=with_token, headers={}, body=body
        )

    # WHEN a "finished" webhook arrives without the job's token, then with it (the vendor's
    # own, or a leaked URL), then again; one for no task of ours; one that is not JSON
    tokenless = deliver(forged, with_token="")
    first = deliver(forged)
    _, prompt = run.queue.sent.popleft()
    run.engine.handle(dict(prompt))
    prompted_polls = list(run.queue.sent)
    replay = deliver(forged)
    stranger = deliver(webhook("1", {"code": 0}))
    garbage = deliver(b"<html>")

    # THEN only the one with the token prompted, and the prompt only made us ask RunningHub,
    # which says running: nothing changed
    assert len(token) == 43 and task_id not in token
    assert (tokenless, first, replay) == ("bad_token", "prompted", "replayed")
    assert (stranger, garbage) == ("unknown_job", "unverified")
    assert waiting["status"] == run.generate()["status"] == "waiting"
    assert run.task()["status"] == "running"
    assert len(runninghub.bodies(OUTPUTS)) == 2
    assert prompted_polls == []  # a prompt that finds the job running schedules no poll
    # and when RunningHub does finish (at the job's own next poll), the result is its own,
    # not the webhook's
    assert not run.queue.sent
    run.queue.sent.append(own_poll)
    drain(run.engine, run.queue)
    assert run.task()["status"] == "succeeded"
    assert run.outputs() == [RESULT]
    assert run.charged()
