"""Every error is RFC 9457 problem+json with a registry code, in the client's language."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from retouch.catalog.errors import InputsInvalid
from retouch.catalog.forms import validate_inputs
from retouch.core.errors import REGISTRY, Category
from retouch.core.ratelimit import MemoryRateLimiter
from retouch.http.problems import (
    MAX_FIELD_ERRORS,
    PROBLEM_CONTENT_TYPE,
    negotiate_language,
    problem_response,
)
from tests.catalog_support import form_of, valid_inputs
from tests.conftest import LogLines
from tests.probe_app import build_probe_app

REQUIRED_CODES = {
    "UNAUTHENTICATED": 401,
    "TOKEN_EXPIRED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "VALIDATION_FAILED": 422,
    "QUOTA_EXCEEDED": 402,
    "RATE_LIMITED": 429,
    "IDEMPOTENCY_KEY_IN_USE": 409,
    "IDEMPOTENCY_KEY_REUSED": 422,
    "FEATURE_UNAVAILABLE": 409,
    "TASK_NOT_CANCELABLE": 409,
    "SERVICE_UNAVAILABLE": 503,
    "INTERNAL": 500,
}


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = build_probe_app(rate_limiter=MemoryRateLimiter())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    body: dict[str, Any] = response.json()
    assert set(body) >= {"type", "title", "status", "detail", "code", "request_id"}
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(code.lower().replace("_", "-"))
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_registry_holds_every_required_code_with_both_languages() -> None:
    for code, status in REQUIRED_CODES.items():
        entry = REGISTRY[code]
        assert entry.status == status
        assert entry.zh_cn and entry.en and entry.zh_cn != entry.en
    assert all(isinstance(entry.category, Category) for entry in REGISTRY.values())
    assert all(code == code.upper() for code in REGISTRY)


def test_unknown_route_is_a_problem_404(client: TestClient) -> None:
    # WHEN a path no function serves is requested
    response = client.get("/no/such/route")

    # THEN it is a problem with the NOT_FOUND code, in Chinese by default
    body = assert_problem(response, 404, "NOT_FOUND")
    assert body["title"] == REGISTRY["NOT_FOUND"].zh_cn
    assert response.headers["content-language"] == "zh-CN"


def test_wrong_method_is_a_problem_405_with_allow(client: TestClient) -> None:
    response = client.delete("/probe/echo")

    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "POST"


def test_accept_language_en_gives_english(client: TestClient) -> None:
    response = client.get("/nope", headers={"Accept-Language": "en-US,en;q=0.9"})

    body = assert_problem(response, 404, "NOT_FOUND")
    assert body["title"] == "Not found"
    assert response.headers["content-language"] == "en"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "zh-CN"),
        ("", "zh-CN"),
        ("en", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("zh;q=0.5, en;q=0.9", "en"),
        ("fr-FR, de", "en"),
        ("*", "zh-CN"),
        ("fr, zh;q=0.1", "zh-CN"),
        ("zh;q=0, fr", "en"),
        ("en;q=bogus, zh", "zh-CN"),
    ],
)
def test_negotiates_language_by_quality(header: str | None, expected: str) -> None:
    assert negotiate_language(header) == expected


def test_invalid_fields_are_listed_in_a_422(client: TestClient) -> None:
    response = client.post("/probe/echo", json={"name": "", "count": -1})

    body = assert_problem(response, 422, "VALIDATION_FAILED")
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"body.name", "body.count"}


def unknown_keys(count: int) -> dict[str, str]:
    return {f"unknown_{index:05d}_{'x' * 50}": "v" * 10 for index in range(count)}


def test_a_422_for_more_fields_than_the_cap_lists_50_and_counts_the_rest(
    client: TestClient,
) -> None:
    # The unit settings cap bodies at 4 KB: 300 short unknown keys fit in it.
    extra = {f"k{index}": 0 for index in range(300)}

    response = client.post("/probe/strict", json={"name": "ok", **extra})

    body = assert_problem(response, 422, "VALIDATION_FAILED")
    assert len(body["errors"]) == MAX_FIELD_ERRORS == 50
    assert body["errors_omitted"] == 300 - 50


def test_task_inputs_with_14000_unknown_keys_answer_a_small_422() -> None:
    inputs = {**valid_inputs()["cutout"], **unknown_keys(14_000)}
    with pytest.raises(InputsInvalid) as caught:
        validate_inputs(form=form_of("cutout"), inputs=inputs, language="en")

    response = problem_response(caught.value, request_id="req-1", language="en")

    body = json.loads(bytes(response.body))
    assert response.status_code == 422
    assert len(body["errors"]) == 50
    assert {error["code"] for error in body["errors"]} == {"extra_forbidden"}
    assert body["errors_omitted"] == 14_000 - 50
    assert len(response.body) < 20_000


def test_a_422_within_the_cap_has_no_omitted_count(client: TestClient) -> None:
    response = client.post("/probe/strict", json={"name": "ok", **{f"k{i}": 0 for i in range(49)}})

    body = assert_problem(response, 422, "VALIDATION_FAILED")
    assert len(body["errors"]) == 49
    assert "errors_omitted" not in body


def test_invalid_path_parameter_is_a_422(client: TestClient) -> None:
    response = client.get("/probe/items/not-a-number")

    body = assert_problem(response, 422, "VALIDATION_FAILED")
    assert body["errors"][0]["field"] == "path.item_id"


def test_malformed_json_is_a_400(client: TestClient) -> None:
    response = client.post(
        "/probe/echo", content=b'{"name": "x", ', headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 400, "MALFORMED_REQUEST")


def test_non_json_body_is_a_415(client: TestClient) -> None:
    response = client.post(
        "/probe/echo", content=b"name=x&count=1", headers={"Content-Type": "text/plain"}
    )

    assert_problem(response, 415, "UNSUPPORTED_MEDIA_TYPE")


def test_json_with_charset_is_accepted(client: TestClient) -> None:
    response = client.post(
        "/probe/echo",
        content=b'{"name": "x", "count": 1}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )

    assert response.status_code == 200
    assert response.json() == {"name": "x", "count": 1}


def test_declared_oversized_body_is_a_413(client: TestClient) -> None:
    # GIVEN the limit is 4096 bytes (unit settings)
    payload = json.dumps({"name": "x", "count": 1, "pad": "a" * 5000}).encode()

    response = client.post(
        "/probe/echo", content=payload, headers={"Content-Type": "application/json"}
    )

    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")


def test_streamed_oversized_body_without_length_is_a_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "x", "count": 1, "pad": "'
        for _ in range(10):
            yield b"a" * 1000
        yield b'"}'

    response = client.post(
        "/probe/echo", content=chunks(), headers={"Content-Type": "application/json"}
    )

    assert "content-length" not in response.request.headers
    assert_problem(response, 413, "PAYLOAD_TOO_LARGE")


def test_unexpected_exception_is_a_500_without_internals(
    client: TestClient, log_lines: LogLines
) -> None:
    response = client.get("/probe/boom", headers={"Accept-Language": "en"})

    body = assert_problem(response, 500, "INTERNAL")
    assert body["detail"] == "Internal server error"
    assert "SELECT" not in response.text and "Traceback" not in response.text
    # THEN the full trace is in the log, tagged with the request id
    (failure,) = log_lines.with_message("unhandled exception")
    assert "Traceback" in failure["exception"]
    assert "RuntimeError: secret internals" in failure["exception"]
    assert failure["request_id"] == body["request_id"]


def test_cache_outage_is_a_503_without_addresses(client: TestClient) -> None:
    response = client.get("/probe/cache-broken")

    assert_problem(response, 503, "SERVICE_UNAVAILABLE")
    assert "10.0.0.9" not in response.text


def test_a_refusal_the_code_chose_is_a_warning_without_a_trace(
    client: TestClient, log_lines: LogLines
) -> None:
    response = client.get("/probe/busy")

    assert_problem(response, 503, "SERVICE_UNAVAILABLE")
    (line,) = log_lines.with_message("request refused")
    assert (line["level"], line["error_code"]) == ("WARNING", "SERVICE_UNAVAILABLE")
    assert "exception" not in line
    assert log_lines.with_message("request failed") == []


def test_a_503_caused_by_a_failure_logs_the_failure_with_its_trace(
    client: TestClient, log_lines: LogLines
) -> None:
    response = client.get("/probe/db-broken")

    assert_problem(response, 503, "SERVICE_UNAVAILABLE")
    assert "10.0.0.8" not in response.text
    (line,) = log_lines.with_message("request failed")
    assert line["level"] == "ERROR"
    assert "ConnectionRefusedError" in line["exception"]
