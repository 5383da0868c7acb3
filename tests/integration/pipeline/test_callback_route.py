"""`POST /v1/callbacks/{provider}/{token}` over HTTP, the deployed function's app against real
MariaDB and Redis (its engine, over the scripted vendor, given through the route's
dependency): every callback is answered the same empty 204, a forged one writes and sends
nothing, a flood with the job's token prompts at most once per interval, and the token
never reaches a log line."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from retouch.bootstrap.callbacks import callback_engine
from retouch.core.settings import get_settings
from tests.conftest import LogLines, Stack, load_function
from tests.integration.callback_support import (
    events_named,
    generate_row,
    signed,
    token_of,
    waiting_run,
)
from tests.integration.engine_support import Run
from tests.integration.task_support import tasks_app

pytestmark = pytest.mark.integration

#: Headers whose values differ between any two requests (or count the caller's budget).
PER_REQUEST = {"date", "x-request-id", "ratelimit", "ratelimit-policy", "ratelimit-remaining"}


@pytest.fixture
def waiting(stack: Stack, tmp_path: Path) -> Iterator[Run]:
    """A task whose `generate` step waits on the vendor's job (see `waiting_run`)."""
    with TestClient(tasks_app()) as tasks:
        yield waiting_run(tasks, tmp_path)


@pytest.fixture
def callbacks(waiting: Run) -> Iterator[TestClient]:
    """The callbacks function's app, its engine the waiting run's."""
    app: FastAPI = load_function("functions/http/callbacks/app.py").app
    app.dependency_overrides[callback_engine] = lambda: waiting.engine
    with TestClient(app) as http:
        yield http


def post(http: TestClient, path: str, headers: dict[str, str], body: bytes) -> httpx.Response:
    response: httpx.Response = http.post(
        path, content=body, headers={**headers, "content-type": "application/json"}
    )
    return response


def seen(response: httpx.Response) -> tuple[int, dict[str, str], bytes]:
    """What a caller can tell one answer from another by."""
    headers = {k: v for k, v in response.headers.items() if k.lower() not in PER_REQUEST}
    return response.status_code, headers, response.content


def test_every_callback_is_answered_the_same_empty_204(callbacks: TestClient, waiting: Run) -> None:
    token, job, run = token_of(waiting), waiting.vendor_job, waiting.task_id
    good = signed(f"evt-a-{run}", job)
    cases: dict[str, tuple[str, tuple[dict[str, str], bytes]]] = {
        "prompted": (f"/v1/callbacks/tencent/{token}", good),
        "replayed": (f"/v1/callbacks/tencent/{token}", good),
        "debounced": (f"/v1/callbacks/tencent/{token}", signed(f"evt-b-{run}", job)),
        "bad token": (f"/v1/callbacks/tencent/{secrets.token_urlsafe(32)}", good),
        "no token": ("/v1/callbacks/tencent", good),
        "long token": (f"/v1/callbacks/tencent/{'x' * 2000}", good),
        "unknown job": (f"/v1/callbacks/tencent/{token}", signed(f"evt-c-{run}", "nosuch-job")),
        "unverified": (f"/v1/callbacks/tencent/{token}", signed("e", job, secret="wrong")),
        "not json": (f"/v1/callbacks/tencent/{token}", ({}, b"<html>")),
        "unknown provider": (f"/v1/callbacks/nosuchvendor/{token}", good),
        "bad provider key": (f"/v1/callbacks/{'Z' * 300}/{token}", good),
    }

    answers = {case: seen(post(callbacks, path, *sent)) for case, (path, sent) in cases.items()}

    assert answers["prompted"] == (204, answers["prompted"][1], b"")
    assert "x-callback-outcome" not in answers["prompted"][1]
    assert {case: answer == answers["prompted"] for case, answer in answers.items()} == {
        case: True for case in cases
    }
    # and yet exactly one of them sent the waiting step a poll
    assert [body.get("prompt") for _, body in waiting.queue.sent] == [True]


def test_a_forged_callback_without_the_token_writes_nothing_and_sends_nothing(
    callbacks: TestClient, waiting: Run
) -> None:
    # GIVEN a callback the vendor really signed (the body is right), at a guessed token
    prefix = f"evt-forged-{waiting.task_id}-"
    paths = ["/v1/callbacks/tencent", f"/v1/callbacks/tencent/{secrets.token_urlsafe(32)}"]

    # WHEN it is sent, token-less and with a guessed token, 20 times with varied bodies
    statuses = {
        post(callbacks, path, *signed(f"{prefix}{n}", waiting.vendor_job)).status_code
        for path in paths
        for n in range(10)
    }

    # THEN every answer is 204, no event id was kept, no prompt claimed, no message sent
    assert statuses == {204}
    assert events_named(prefix) == 0
    assert generate_row(waiting)["prompted_at"] is None
    assert not waiting.queue.sent
    assert waiting.task()["status"] == "running"


def test_500_varied_callbacks_with_the_token_prompt_at_most_once_per_interval(
    callbacks: TestClient, waiting: Run
) -> None:
    # GIVEN the job's own callback URL (the vendor's, or a leaked one)
    path, prefix = f"/v1/callbacks/tencent/{token_of(waiting)}", f"evt-flood-{waiting.task_id}-"
    interval_s = get_settings().callback_prompt_interval_s

    # WHEN 500 callbacks, each a different event, arrive as fast as we can send them
    started = time.monotonic()
    statuses = {
        post(callbacks, path, *signed(f"{prefix}{n}", waiting.vendor_job)).status_code
        for n in range(500)
    }
    windows = 1 + int((time.monotonic() - started) // interval_s)

    # THEN each was answered 204; one prompt (and one event id) went out per interval at most
    prompts = [body for _, body in waiting.queue.sent if body.get("prompt")]
    assert statuses == {204}
    assert 1 <= len(prompts) <= windows
    assert events_named(prefix) == len(prompts)
    assert len(waiting.queue.sent) == len(prompts)


def test_the_token_never_reaches_a_log_line(
    callbacks: TestClient, waiting: Run, log_lines: LogLines
) -> None:
    token = token_of(waiting)

    post(callbacks, f"/v1/callbacks/tencent/{token}", *signed("evt-log", waiting.vendor_job))

    lines: list[dict[str, Any]] = log_lines.all()
    assert [line["outcome"] for line in log_lines.with_message("callback")] == ["prompted"]
    (access,) = log_lines.with_message("request")
    assert access["route"] == "/v1/callbacks/{provider}/{token}"
    assert all(token not in str(line) for line in lines)


def test_a_path_that_is_no_callback_route_is_the_apis_usual_404(stack: Stack) -> None:
    app = load_function("functions/http/callbacks/app.py").app
    with TestClient(app) as http:
        response = http.post("/v1/callbacks/a/b/c", content=b"{}")

    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
