"""BE-SEC-002 SQL injection, over HTTP: quotes, comments and tautologies in a path id, a
query filter and a sign-in body are data, never SQL — every statement is parameterised
(ruff `S608` keeps string-built SQL out of the tree)."""

from __future__ import annotations

import httpx
import pytest

from tests.security.conftest import account, problem

pytestmark = [pytest.mark.integration, pytest.mark.security]

TAUTOLOGY = "' OR '1'='1' -- "


def test_an_injected_email_prefix_matches_nothing(http: httpx.Client) -> None:
    account()  # at least one other account exists
    _, admin = account("admin")

    response = http.get("/v1/admin/users", params={"email_prefix": TAUTOLOGY}, headers=admin)

    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


def test_an_injected_task_id_is_a_plain_404(http: httpx.Client) -> None:
    _, headers = account()

    response = http.get(f"/v1/tasks/tsk_{TAUTOLOGY}", headers=headers)

    problem(response, 404, "NOT_FOUND")


def test_an_injected_sign_in_is_refused(http: httpx.Client) -> None:
    response = http.post(
        "/v1/auth/login", json={"email": f"x{TAUTOLOGY}@example.com", "password": TAUTOLOGY}
    )

    assert response.status_code == 422, response.text
    assert "access_token" not in response.text
