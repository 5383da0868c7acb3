"""Provider callbacks against real MariaDB and Redis: only a verified, new event prompts the
waiting step, and the step then asks the vendor; forged, stale or replayed callbacks change
nothing, nor does a late one for a canceled task."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from retouch.core.errors import NotFound, Unauthenticated
from retouch.pipeline.callbacks import receive_callback
from retouch.pipeline.engine import Engine
from retouch.providers.port import CallbackEvent
from retouch.providers.simulator import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SimulatorProvider,
    callback_signature,
)
from tests.conftest import Stack, load_function
from tests.integration.engine_support import Run
from tests.integration.pipeline_support import PNG, ScriptedProvider, drain
from tests.integration.task_support import quota, tasks_app

pytestmark = pytest.mark.integration

SECRET = "callback-secret-for-tests-0123456789"


@dataclass
class SigningProvider(ScriptedProvider):
    """A scripted vendor whose callbacks are verified exactly as the simulator's are."""

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackEvent:
        return SimulatorProvider("http://127.0.0.1:9", "key", SECRET).parse_callback(headers, body)


def signed(
    event_id: str, job_id: str, *, at: float | None = None, secret: str = SECRET
) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"event_id": event_id, "job_id": job_id, "status": "succeeded"}).encode()
    timestamp = str(int(time.time() if at is None else at))
    headers = {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: callback_signature(secret, timestamp, body),
    }
    return headers, body


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(tasks_app()) as test_client:
        yield test_client


@pytest.fixture
def waiting(client: TestClient, tmp_path: Path) -> Run:
    """A task whose `generate` waits on the vendor's first job (no messages pending)."""
    run = Run(client, tmp_path, SigningProvider("tencent", ["pending"] * 20))
    run.engine.handle({"task_id": run.task_id, "step": "prepare", "attempt": 1})
    for _ in range(2):  # generate: submit (pending), then its first poll
        _, body = run.queue.sent.popleft()
        run.engine.handle(dict(body))
    run.queue.sent.clear()  # the next poll is a delayed message: the test plays the clock
    return run


def callback(run: Run, headers: dict[str, str], body: bytes) -> str:
    return receive_callback(run.engine, provider_key="tencent", headers=headers, body=body)


def test_a_verified_callback_prompts_the_waiting_step_once(waiting: Run) -> None:
    headers, body = signed("evt-1", waiting.vendor_job)

    first = callback(waiting, headers, body)
    replay = callback(waiting, headers, body)

    assert (first, replay) == ("prompted", "replayed")
    assert [m for _, m in waiting.queue.sent] == [
        {"task_id": waiting.task_id, "step": "generate", "index": 1, "attempt": 1}
    ]


@pytest.mark.parametrize(
    ("base", "expected"),
    [("https://api.example.test", "https://api.example.test/v1/callbacks/tencent"), (None, None)],
)
def test_providers_are_told_where_to_call_back_when_the_api_has_a_public_url(
    client: TestClient, tmp_path: Path, base: str | None, expected: str | None
) -> None:
    provider = ScriptedProvider("tencent", [PNG])
    run = Run(client, tmp_path, provider)
    run.engine = Engine(replace(run.engine.context, callback_base_url=base))

    assert run.run()["status"] == "succeeded"
    assert [job.callback_url for job in provider.jobs] == [expected]


@pytest.mark.parametrize("forgery", ["wrong-secret", "stale", "no-signature", "tampered-body"])
def test_forged_or_stale_callbacks_are_refused_and_change_nothing(
    waiting: Run, forgery: str
) -> None:
    headers, body = signed(
        "evt-2",
        waiting.vendor_job,
        secret="not-the-secret" if forgery == "wrong-secret" else SECRET,
        at=time.time() - 3600 if forgery == "stale" else None,
    )
    if forgery == "no-signature":
        headers = {}
    if forgery == "tampered-body":
        body = body.replace(waiting.vendor_job.encode(), b"tencent-other")

    with pytest.raises(Unauthenticated):
        callback(waiting, headers, body)

    assert waiting.queue.sent == type(waiting.queue.sent)()
    assert waiting.task()["status"] == "running"


def test_a_callback_for_an_unknown_provider_is_404(waiting: Run) -> None:
    headers, body = signed("evt-3", waiting.vendor_job)

    with pytest.raises(NotFound):
        receive_callback(waiting.engine, provider_key="nosuch", headers=headers, body=body)


def test_a_late_callback_for_a_canceled_task_changes_nothing(
    client: TestClient, waiting: Run
) -> None:
    # GIVEN the owner canceled while the vendor job ran
    assert (
        client.post(f"/v1/tasks/{waiting.task_id}/cancel", headers=waiting.headers).status_code
        == 200
    )

    # WHEN the vendor's callback arrives and its prompt is run
    headers, body = signed("evt-4", waiting.vendor_job)
    callback(waiting, headers, body)
    drain(waiting.engine, waiting.queue)

    # THEN the task stays canceled with its credits back once; the vendor job is canceled
    assert waiting.task()["status"] == "canceled"
    assert quota(waiting.user["id"]) == waiting.before


def test_the_callbacks_route_answers_401_to_an_unverifiable_callback_and_404_to_no_provider(
    stack: Stack,
) -> None:
    app = load_function("functions/http/callbacks/app.py").app
    with TestClient(app) as http:
        unverifiable = http.post("/v1/callbacks/local", content=b'{"event_id": "e", "job_id": "j"}')
        unknown = http.post("/v1/callbacks/nosuchvendor", content=b"{}")
        malformed = http.post("/v1/callbacks/..%2Fadmin", content=b"{}")

    assert (unverifiable.status_code, unverifiable.json()["code"]) == (401, "UNAUTHENTICATED")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "NOT_FOUND")
    assert malformed.status_code in (404, 422)
