"""API8:2023 Security Misconfiguration: hardening headers on every answer, CORS only for the
listed origin (never with credentials), no debug mode, and an internal error — here a real
misconfiguration, an unknown `RETOUCH_DEBUG` variable — answers a bare problem+json 500 with
the trace in the log only."""

from __future__ import annotations

import httpx
import pytest

from retouch.bootstrap.clients import reset_clients
from tests.conftest import LogLines
from tests.security.conftest import ALLOWED_ORIGIN, Served, account, problem

pytestmark = [pytest.mark.integration, pytest.mark.security]

TRACE_MARKERS = ("Traceback", 'File "', ".py", "SettingsError", "RETOUCH_DEBUG", "pydantic")


def test_answers_carry_the_hardening_headers(http: httpx.Client) -> None:
    _, headers = account()

    me = http.get("/v1/me", headers={**headers, "X-Forwarded-Proto": "https"})
    missing = http.get("/v1/tasks/tsk_nothing", headers=headers)  # a function's own 404

    assert me.headers["x-content-type-options"] == "nosniff"
    assert me.headers["cache-control"] == "no-store"  # an authenticated answer is not cached
    assert me.headers["strict-transport-security"].startswith("max-age=")
    assert missing.headers["x-content-type-options"] == "nosniff"


def test_cors_answers_the_listed_origin_only_and_never_with_credentials(
    http: httpx.Client,
) -> None:
    listed = http.get("/v1/features", headers={"Origin": ALLOWED_ORIGIN})
    unlisted = http.get("/v1/features", headers={"Origin": "https://evil.example"})

    assert listed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "access-control-allow-credentials" not in listed.headers
    assert "access-control-allow-origin" not in unlisted.headers
    assert unlisted.status_code == 200  # CORS decides what a page may read, not who is served


def test_a_preflight_is_answered_for_the_listed_origin_and_refused_for_another(
    http: httpx.Client,
) -> None:
    # Through the gateway: a preflight reaches the function serving the method it asks about.
    def preflight(origin: str) -> httpx.Response:
        request = {"Origin": origin, "Access-Control-Request-Method": "POST",
                   "Access-Control-Request-Headers": "authorization,idempotency-key"}  # fmt: skip
        return http.options("/v1/tasks", headers=request)

    listed = preflight(ALLOWED_ORIGIN)
    unlisted = preflight("https://evil.example")
    plain_options = http.options("/v1/tasks")  # no preflight: no route takes OPTIONS

    assert listed.status_code == 200, listed.text
    assert listed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in listed.headers["access-control-allow-methods"]
    assert "access-control-allow-credentials" not in listed.headers
    assert unlisted.status_code == 400
    assert "access-control-allow-origin" not in unlisted.headers
    assert plain_options.status_code == 405


def test_no_function_runs_in_debug_mode(served: Served) -> None:
    apps = [function.app for function in served.app.state.gateway.functions if function.app]

    assert apps and not any(app.debug for app in apps)


def test_an_internal_error_is_a_bare_500_and_the_trace_stays_in_the_log(
    http: httpx.Client, monkeypatch: pytest.MonkeyPatch, log_lines: LogLines
) -> None:
    # GIVEN a deploy that sets a variable no setting knows (hoping for a debug mode)
    monkeypatch.setenv("RETOUCH_DEBUG", "true")
    reset_clients()

    # WHEN any route is called
    response = http.get("/v1/features", headers={"Accept-Language": "en"})

    # THEN a generic problem+json 500: no trace, no class, no variable name, no file
    body = problem(response, 500, "INTERNAL")
    assert not [marker for marker in TRACE_MARKERS if marker in response.text], body
    assert response.headers["x-request-id"] == body["request_id"]
    # AND the log has the trace, under the same request id
    errors = [line for line in log_lines.all() if line.get("level") == "ERROR"]
    assert any("RETOUCH_DEBUG" in line.get("exception", "") for line in errors), errors
    monkeypatch.delenv("RETOUCH_DEBUG")
    reset_clients()
