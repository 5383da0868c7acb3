"""API4:2023 Unrestricted Resource Consumption: the per-user task rate is cut off with 429 and
Retry-After, a body over the limit is 413 before the app reads it, a page is at most 100
rows, and an error answer cannot be made larger than the request (≤ 50 field errors)."""

from __future__ import annotations

import httpx
import pytest

from tests.security.conftest import account, problem

pytestmark = [pytest.mark.integration, pytest.mark.security]

TASKS_PER_USER_PER_MIN = 20  # RETOUCH_RATE_LIMIT_TASKS_PER_USER_PER_MIN's default


def test_task_creation_past_the_per_user_rate_is_429_with_retry_after(http: httpx.Client) -> None:
    # GIVEN a user sending task requests as fast as they can (bodies the form refuses, so no
    # credits move: the limit counts requests, before the body is judged)
    _, headers = account()
    body = {"feature": "cutout", "inputs": {}}

    answers = [
        http.post("/v1/tasks", json=body, headers=headers)
        for _ in range(TASKS_PER_USER_PER_MIN + 1)
    ]

    # THEN the first 20 are judged on their merits, the 21st is refused unread
    assert {answer.status_code for answer in answers[:-1]} == {422}
    refused = answers[-1]
    problem(refused, 429, "RATE_LIMITED")
    assert int(refused.headers["retry-after"]) > 0
    assert refused.headers["ratelimit-limit"] == str(TASKS_PER_USER_PER_MIN)
    assert refused.headers["ratelimit-remaining"] == "0"


def test_a_body_over_the_limit_is_413_declared_or_streamed(http: httpx.Client) -> None:
    oversized = b'{"email": "' + b"a" * 1_100_000 + b'"}'
    headers = {"Content-Type": "application/json"}

    declared = http.post("/v1/auth/register", content=oversized, headers=headers)
    streamed = http.post(
        "/v1/auth/register", content=iter([oversized[:600_000], oversized[600_000:]]),
        headers=headers,
    )  # fmt: skip

    problem(declared, 413, "PAYLOAD_TOO_LARGE")
    problem(streamed, 413, "PAYLOAD_TOO_LARGE")


def test_a_page_is_at_most_100_rows(http: httpx.Client) -> None:
    _, headers = account()

    assert http.get("/v1/tasks", params={"limit": 100}, headers=headers).status_code == 200
    body = problem(http.get("/v1/tasks", params={"limit": 101}, headers=headers), 422,
                   "VALIDATION_FAILED")  # fmt: skip
    assert [error["field"] for error in body["errors"]] == ["query.limit"]
    ledger = http.get("/v1/me/quota/ledger", params={"limit": 10_000}, headers=headers)
    problem(ledger, 422, "VALIDATION_FAILED")


def test_an_error_lists_at_most_50_fields_and_counts_the_rest(http: httpx.Client) -> None:
    # GIVEN a sign-up body with 5,000 unknown keys (about 60 KB)
    body = {f"field_{index}": index for index in range(5_000)}

    response = http.post("/v1/auth/register", json=body)

    # THEN 50 field errors, the rest counted, and an answer far smaller than the request
    problem(response, 422, "VALIDATION_FAILED")
    assert len(response.json()["errors"]) == 50
    assert response.json()["errors_omitted"] == 5_002 - 50  # + email and password missing
    assert len(response.content) < 20_000
