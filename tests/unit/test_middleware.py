"""Request id, access log and metrics: on every response, errors included."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

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


def test_keeps_a_well_formed_client_request_id(client: TestClient) -> None:
    response = client.get("/probe/items/7", headers={"X-Request-ID": "client-trace-0001"})

    assert response.status_code == 200
    assert response.headers["x-request-id"] == "client-trace-0001"


@pytest.mark.parametrize(
    "sent",
    [b"short", b"has spaces in it", b"x" * 200, b"<script>alert(1)</script>", "é-id".encode()],
)
def test_replaces_a_malformed_request_id(client: TestClient, sent: bytes) -> None:
    response = client.get("/probe/items/7", headers={"X-Request-ID": sent})

    returned = response.headers["x-request-id"]
    assert returned.encode() != sent
    assert uuid.UUID(returned).version == 4


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
    assert response.headers["x-request-id"] == "trace-on-errors-1"
    assert response.json()["request_id"] == "trace-on-errors-1"


def test_writes_one_access_line_with_the_route_template(
    client: TestClient, log_lines: LogLines
) -> None:
    client.get("/probe/items/42", headers={"X-Request-ID": "access-line-0001"})

    (line,) = log_lines.with_message("request")
    assert line["method"] == "GET"
    assert line["route"] == "/probe/items/{item_id}"
    assert line["status"] == 200
    assert line["request_id"] == "access-line-0001"
    assert isinstance(line["latency_ms"], float) and line["latency_ms"] >= 0
    assert line["level"] == "INFO"


def test_every_log_line_of_a_request_carries_its_id_and_later_lines_do_not(
    client: TestClient, log_lines: LogLines
) -> None:
    client.get("/probe/boom", headers={"X-Request-ID": "failing-request-01"})
    client.get("/probe/items/1", headers={"X-Request-ID": "next-request-0001"})

    lines = log_lines.all()
    assert [line["request_id"] for line in lines] == [
        "failing-request-01",
        "failing-request-01",
        "next-request-0001",
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
