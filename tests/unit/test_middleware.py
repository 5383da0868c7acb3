"""Request id, access log and metrics: on every response, errors included."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.types import Message, Scope

from retouch.core.ratelimit import MemoryRateLimiter
from tests.conftest import LogLines
from tests.probe_app import build_probe_app


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = build_probe_app(rate_limiter=MemoryRateLimiter())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def emf_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


def test_a_client_request_id_never_replaces_ours_and_is_logged_beside_it(
    client: TestClient, log_lines: LogLines
) -> None:
    # WHEN a client labels its request (a forged id: another request's, say)
    response = client.get("/probe/items/7", headers={"X-Request-ID": "forged"})

    # THEN the answer carries our own id, and the access line both
    assert response.status_code == 200
    ours = response.headers["x-request-id"]
    assert uuid.UUID(ours).version == 4
    (line,) = log_lines.with_message("request")
    assert (line["request_id"], line["client_request_id"]) == (ours, "forged")


@pytest.mark.parametrize(
    "sent",
    [b"x" * 129, b"line\nbreak", b"tab\there", "\u00e9-id".encode()],
)
def test_an_unprintable_or_overlong_client_request_id_is_ignored(
    client: TestClient, log_lines: LogLines, sent: bytes
) -> None:
    response = client.get("/probe/items/7", headers={"X-Request-ID": sent})

    assert uuid.UUID(response.headers["x-request-id"]).version == 4
    (line,) = log_lines.with_message("request")
    assert "client_request_id" not in line


def test_a_platform_request_id_is_ours_and_a_client_header_does_not_replace_it() -> None:
    # GIVEN API Gateway's own id of the request in the event Mangum hands over
    app = build_probe_app(rate_limiter=MemoryRateLimiter())
    captured: list[Message] = []

    async def send(message: Message) -> None:
        captured.append(message)

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope: Scope = {
        "type": "http",
        "method": "GET",
        "path": "/probe/items/7",
        "raw_path": b"/probe/items/7",
        "query_string": b"",
        "headers": [(b"x-request-id", b"client-label-0001")],
        "client": ("203.0.113.5", 1234),
        "server": ("testserver", 80),
        "scheme": "http",
        "root_path": "",
        "http_version": "1.1",
        "aws.event": {"requestContext": {"requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"}},
    }

    # WHEN the request is served
    asyncio.run(app(scope, receive, send))

    # THEN the platform's id is the request's, whatever the client sent
    (start,) = [message for message in captured if message["type"] == "http.response.start"]
    headers = dict(start["headers"])
    assert headers[b"x-request-id"] == b"c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def test_generates_a_request_id_when_none_is_sent(client: TestClient) -> None:
    first = client.get("/probe/items/1").headers["x-request-id"]
    second = client.get("/probe/items/1").headers["x-request-id"]

    assert first != second
    assert uuid.UUID(first) and uuid.UUID(second)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/missing"),
        ("GET", "/probe/boom"),
        ("PUT", "/probe/echo"),
        ("GET", "/probe/items/x"),
    ],
)
def test_request_id_is_on_error_responses_too(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, headers={"X-Request-ID": "trace-on-errors-1"})

    assert response.status_code >= 400
    ours = response.headers["x-request-id"]
    assert uuid.UUID(ours).version == 4
    assert response.json()["request_id"] == ours


def test_writes_one_access_line_with_the_route_template(
    client: TestClient, log_lines: LogLines
) -> None:
    response = client.get("/probe/items/42", headers={"X-Request-ID": "access-line-0001"})

    (line,) = log_lines.with_message("request")
    assert line["method"] == "GET"
    assert line["route"] == "/probe/items/{item_id}"
    assert line["status"] == 200
    assert line["request_id"] == response.headers["x-request-id"]
    assert line["client_request_id"] == "access-line-0001"
    assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0
    assert line["level"] == "INFO"


def test_every_log_line_of_a_request_carries_its_id_and_later_lines_do_not(
    client: TestClient, log_lines: LogLines
) -> None:
    failing = client.get("/probe/boom", headers={"X-Request-ID": "failing-request-01"})
    following = client.get("/probe/items/1")

    lines = log_lines.all()
    failing_id, following_id = failing.headers["x-request-id"], following.headers["x-request-id"]
    assert [line["request_id"] for line in lines] == [failing_id, failing_id, following_id]
    assert [line.get("client_request_id") for line in lines] == [
        "failing-request-01",
        "failing-request-01",
        None,
    ]


def test_unmatched_routes_share_one_metric_dimension(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    client.get("/random/a1")
    client.get("/random/b2")

    routes = [line["route"] for line in emf_lines(capsys)]
    assert routes == ["GET unmatched", "GET unmatched"]


def test_emits_request_latency_and_error_metrics_per_route(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    client.get("/probe/items/1")
    client.post("/probe/echo", json={"name": ""})
    client.get("/probe/boom")

    lines = emf_lines(capsys)
    assert [line["route"] for line in lines] == [
        "GET /probe/items/{item_id}",
        "POST /probe/echo",
        "GET /probe/boom",
    ]
    assert [(line["Errors4xx"], line["Errors5xx"]) for line in lines] == [
        ([0.0], [0.0]),
        ([1.0], [0.0]),
        ([0.0], [1.0]),
    ]
    assert all(line["Requests"] == [1.0] and line["Latency"][0] >= 0 for line in lines)
    names = {metric["Name"] for metric in lines[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {"Requests", "Latency", "Errors4xx", "Errors5xx"}
