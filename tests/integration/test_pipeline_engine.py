"""The engine through its steps against real MariaDB, Redis and a local storage, with
scripted providers behind the provider port and an in-memory queue (delays skipped)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.providers.port import Provider, ProviderBusy, ProviderPermanent, ProviderRetryable
from retouch.queue.factory import get_queue
from retouch.storage import upload_key
from tests.conftest import Stack
from tests.integration.identity_support import new_account
from tests.integration.pipeline_support import (
    PNG,
    MemoryQueue,
    Providers,
    ScriptedProvider,
    drain,
    make_engine,
    task_steps,
)
from tests.integration.quota_support import assert_ledger_matches
from tests.integration.task_support import new_upload, quota, tasks_app, user_internal_id

pytestmark = pytest.mark.integration

CHAIN = ["tencent", "runninghub", "local"]  # the seed's cutout chain


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(tasks_app()) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def closed_breakers(stack: Stack) -> None:
    for key in CHAIN:
        get_redis().delete(f"breaker:{{{key}}}:open", f"breaker:{{{key}}}:failures")


class Run:
    """One user's cutout task (its upload `picture`), run by an engine over `providers`
    (`engine_options` go to `make_engine`)."""

    def __init__(
        self,
        client: TestClient,
        tmp_path: Path,
        *providers: Provider,
        picture: bytes = PNG,
        **engine_options: Any,
    ) -> None:
        self.client = client
        first = providers[0] if providers else None
        #: The vendor handle of the first provider's first job (a scripted one's).
        self.vendor_job = first.handle(1) if isinstance(first, ScriptedProvider) else ""
        self.queue = MemoryQueue()
        self.engine = make_engine(tmp_path, Providers(*providers), self.queue, **engine_options)
        self.user, self.headers = new_account()
        self.before = quota(self.user["id"])
        upload = new_upload(self.user["id"])
        self.engine.context.storage.put(
            upload_key(user_id=self.user["id"], upload_id=upload), picture, "image/png"
        )
        response = client.post(
            "/v1/tasks",
            json={"feature": "cutout", "inputs": {"image": upload}},
            headers=self.headers,
        )
        assert response.status_code == 202, response.text
        self.task_id = str(response.json()["id"])

    def run(self, *, copies: int = 1) -> dict[str, Any]:
        first = {"task_id": self.task_id, "step": "prepare", "attempt": 1}
        for _ in range(copies):
            self.engine.handle(dict(first))
        drain(self.engine, self.queue, copies=copies)
        return self.task()

    def task(self) -> dict[str, Any]:
        task: dict[str, Any] = self.client.get(
            f"/v1/tasks/{self.task_id}", headers=self.headers
        ).json()
        return task

    def steps(self) -> list[dict[str, Any]]:
        return task_steps(self.task_id)

    def charged(self) -> bool:
        after = quota(self.user["id"])
        assert after["reserved"] == 0
        assert_ledger_matches(get_database(), user_internal_id(self.user["id"]))
        return after["balance"] == self.before["balance"] - 4


def test_a_task_goes_through_its_steps_and_is_charged_once(
    client: TestClient, tmp_path: Path
) -> None:
    run = Run(client, tmp_path, ScriptedProvider("tencent", [PNG]))

    task = run.run()

    assert task["status"] == "succeeded" and task["started_at"] and task["finished_at"]
    (image,) = task["output"]["images"]
    assert (image["width"], image["height"]) == (4, 3)
    assert [(s["step"], s["status"]) for s in run.steps()] == [
        ("prepare", "succeeded"),
        ("generate", "succeeded"),
        ("store", "succeeded"),
    ]
    assert run.charged()


def test_every_message_delivered_three_times_ends_the_same_charged_once(
    client: TestClient, tmp_path: Path
) -> None:
    provider = ScriptedProvider("tencent", [PNG, PNG, PNG])
    run = Run(client, tmp_path, provider)

    task = run.run(copies=3)

    assert task["status"] == "succeeded"
    assert provider.submits == 1  # the step's lock and status make redeliveries no-ops
    assert run.charged()


def test_an_asynchronous_job_is_polled_until_it_finishes(
    client: TestClient, tmp_path: Path
) -> None:
    provider = ScriptedProvider("tencent", ["pending", "pending", "pending", PNG])
    run = Run(client, tmp_path, provider)

    task = run.run()

    assert task["status"] == "succeeded"
    assert (provider.submits, provider.polls) == (1, 3)
    delays = [delay for queue, _, delay in run.queue.published if queue == "steps-generate"]
    assert delays == sorted(delays) and delays[-1] > delays[0]  # growing delay


def test_retryable_errors_retry_the_provider_then_fall_back_to_the_next(
    client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a first provider that always times out, a second that works
    first = ScriptedProvider("tencent", [ProviderRetryable("timeout")] * 5)
    second = ScriptedProvider("runninghub", [PNG])
    run = Run(client, tmp_path, first, second)

    task = run.run()

    # THEN 1 + 2 retries at the first, then the fallback, recorded for operators only
    assert task["status"] == "succeeded"
    assert (first.submits, second.submits) == (3, 1)
    generate = next(s for s in run.steps() if s["step"] == "generate")
    assert generate["provider_key"] == "runninghub"
    assert [f["provider"] for f in json.loads(generate["fallbacks"])] == ["tencent"]
    assert "tencent" not in json.dumps(task) and "timeout" not in json.dumps(task)
    # the metrics name the provider that served the task, and count the fallback
    metrics = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line
    ]
    assert any(m.get("TasksFinished") and m.get("provider") == "runninghub" for m in metrics)
    assert any(m.get("ProviderFallbacks") and m.get("provider") == "tencent" for m in metrics)
    assert run.charged()


def test_a_busy_provider_is_waited_for_without_counting_an_attempt(
    client: TestClient, tmp_path: Path
) -> None:
    provider = ScriptedProvider("tencent", [ProviderBusy("full")] * 4 + [PNG])
    run = Run(client, tmp_path, provider)

    assert run.run()["status"] == "succeeded"
    assert provider.submits == 5


def test_a_permanent_error_fails_at_once_and_returns_the_credits(
    client: TestClient, tmp_path: Path
) -> None:
    first = ScriptedProvider("tencent", [ProviderPermanent("content refused by policy X")])
    second = ScriptedProvider("runninghub", [PNG])
    run = Run(client, tmp_path, first, second)

    task = run.run()

    assert (task["status"], task["error"]["code"]) == ("failed", "INPUT_UNPROCESSABLE")
    assert "policy" not in json.dumps(task)
    assert second.submits == 0
    assert not run.charged() and quota(run.user["id"]) == run.before


@pytest.mark.parametrize(
    "result", [b"<html>not an image</html>", b"", "empty"], ids=["html", "zero-bytes", "no-output"]
)
def test_a_result_that_is_not_an_image_goes_to_the_next_provider_never_to_storage(
    client: TestClient, tmp_path: Path, result: Any
) -> None:
    first = ScriptedProvider("tencent", [result])
    second = ScriptedProvider("runninghub", [PNG])
    run = Run(client, tmp_path, first, second)

    task = run.run()

    assert task["status"] == "succeeded"
    assert second.submits == 1
    stored = list((tmp_path / "outputs").rglob("*"))
    assert [p.read_bytes() for p in stored if p.is_file()] == [PNG]


def test_when_every_provider_fails_the_task_fails_and_is_refunded(
    client: TestClient, tmp_path: Path
) -> None:
    providers = [ScriptedProvider(key, [ProviderRetryable("5xx")] * 10) for key in CHAIN]
    run = Run(client, tmp_path, *providers)

    task = run.run()

    assert (task["status"], task["error"]["code"]) == ("failed", "GENERATION_FAILED")
    assert [p.submits for p in providers] == [3, 3, 3]
    assert quota(run.user["id"]) == run.before


def test_a_provider_whose_breaker_is_open_is_skipped(client: TestClient, tmp_path: Path) -> None:
    get_redis().set("breaker:{tencent}:open", "1", px=60_000)
    first = ScriptedProvider("tencent", [PNG])
    second = ScriptedProvider("runninghub", [PNG])
    run = Run(client, tmp_path, first, second)

    assert run.run()["status"] == "succeeded"
    assert (first.submits, second.submits) == (0, 1)


def test_cancel_while_generate_waits_drops_the_rest_and_cancels_the_vendor_job(
    client: TestClient, tmp_path: Path
) -> None:
    # GIVEN a task whose vendor job is pending
    provider = ScriptedProvider("tencent", ["pending"] * 50)
    run = Run(client, tmp_path, provider)
    run.engine.handle({"task_id": run.task_id, "step": "prepare", "attempt": 1})
    for _ in range(3):  # prepare's successor, the submit, one poll
        _, body = run.queue.sent.popleft()
        run.engine.handle(dict(body))

    polls = provider.polls

    # WHEN the owner cancels
    canceled = client.post(f"/v1/tasks/{run.task_id}/cancel", headers=run.headers)

    # THEN the cancel's own `generate` message stops the vendor job at once, before the
    # pending poll comes due
    stop = cancel_message(run.task_id)
    assert stop == {"task_id": run.task_id, "step": "generate", "attempt": 1}
    run.engine.handle(stop)
    assert provider.canceled == [provider.handle(1)]
    # AND the poll arriving afterwards is dropped; the task stays canceled with its credits
    drain(run.engine, run.queue)
    assert canceled.json()["status"] == "canceled"
    assert run.task()["status"] == "canceled"
    assert provider.polls == polls
    assert quota(run.user["id"]) == run.before


def cancel_message(task_id: str) -> dict[str, Any]:
    """The message a cancel published for `task_id` on the real `steps-generate` queue."""
    queue = get_queue()
    for _ in range(20):
        for delivery in queue.receive("steps-generate", max_messages=10, wait_s=0.1):
            queue.ack(delivery)
            if delivery.message.body.get("task_id") == task_id:
                return dict(delivery.message.body)
    raise AssertionError("the cancel published no generate message")
