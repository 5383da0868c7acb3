"""CORS on every route a browser can reach: each HTTP function's every route answers a
preflight from an allowed origin (the event stream and its token included), its refusals carry
the CORS headers too, and the local gateway's storage route takes a browser's direct upload."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.testclient import TestClient

from retouch.core.ratelimit import Limit, MemoryRateLimiter, configured_limits
from retouch.core.settings import get_settings
from retouch.storage import LocalStorage
from retouch.storage.signing import SECURITY_TOKEN
from scripts.local.lambda_runtime import load_function
from scripts.local.storage_gateway import storage_routes
from tests.clock import Clock
from tests.unit.storage_support import SecondsClock, make_storage

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "https://app.retouch.example"
FUNCTIONS = sorted(path.parent.name for path in (ROOT / "functions/http").glob("*/app.py"))
CLIENT = ("203.0.113.50", 40000)


@pytest.fixture(autouse=True)
def origins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETOUCH_CORS_ORIGINS", f"{ORIGIN},http://localhost:5173")
    get_settings.cache_clear()


def app_of(function: str) -> FastAPI:
    app: FastAPI = load_function(f"functions/http/{function}/app.py").app
    return app


def routes_of(app: FastAPI) -> list[tuple[str, str]]:
    """(method, a concrete path) of every operation the app serves (its OpenAPI paths)."""
    return [
        (method.upper(), re.sub(r"\{[^}]+\}", "x1", path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]


def test_the_walk_covers_every_function_and_the_event_routes() -> None:
    paths = {path for function in FUNCTIONS for _, path in routes_of(app_of(function))}

    assert {"auth", "catalog", "health", "tasks", "uploads", "users"} <= set(FUNCTIONS)
    assert {"/v1/tasks/x1/events", "/v1/tasks/x1/events-token"} <= paths
    assert len(paths) > 20


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_route_answers_a_preflight_from_an_allowed_origin(function: str) -> None:
    app = app_of(function)
    app.state.rate_limiter = MemoryRateLimiter()
    with TestClient(app, raise_server_exceptions=False) as client:
        for method, path in routes_of(app):
            response = client.options(
                path,
                headers={
                    "Origin": ORIGIN,
                    "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": "authorization, content-type, last-event-id"
                    if method == "GET"
                    else "authorization, content-type, idempotency-key",
                },
            )
            assert response.status_code == 200, (method, path, response.text)
            assert response.headers["access-control-allow-origin"] == ORIGIN
            assert method in response.headers["access-control-allow-methods"]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_every_routes_refusal_carries_the_cors_headers(function: str) -> None:
    # A limiter with nothing left for this client, on a clock that stands still: every request
    # is refused before its route.
    limiter = MemoryRateLimiter(clock=Clock())
    spent: Limit = configured_limits().per_ip
    while limiter.hit(spent, CLIENT[0]).allowed:
        pass
    app = app_of(function)
    app.state.rate_limiter = limiter
    with TestClient(app, raise_server_exceptions=False, client=CLIENT) as client:
        for method, path in routes_of(app):
            response = client.request(method, path, headers={"Origin": ORIGIN}, json={})
            assert response.status_code == 429, (method, path)
            assert response.headers["access-control-allow-origin"] == ORIGIN
            exposed = response.headers["access-control-expose-headers"].lower()
            assert "retry-after" in exposed and "ratelimit-reset" in exposed


def test_the_event_streams_refusal_is_readable_by_the_page() -> None:
    app = app_of("tasks")
    app.state.rate_limiter = MemoryRateLimiter()
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get(
            "/v1/tasks/tsk_x/events", headers={"Origin": ORIGIN, "Accept": "text/event-stream"}
        )

    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.json()["code"] == "UNAUTHENTICATED"


# --- the local gateway's storage route: a browser's direct upload -------------------------


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    events: list[dict[str, Any]] = []
    return make_storage(tmp_path, SecondsClock(), events)


@pytest.fixture
def gateway(storage: LocalStorage) -> Iterator[TestClient]:
    with TestClient(Starlette(routes=storage_routes(storage))) as client:
        yield client


def test_a_browser_preflights_and_puts_to_a_presigned_upload_url(
    gateway: TestClient, storage: LocalStorage
) -> None:
    ticket = storage.presign_upload(
        "uploads/usr_abc/upl_1", content_type="image/png", max_bytes=100, expires_s=300
    )
    parts = urlsplit(ticket.url)
    target = f"{parts.path}?{parts.query}"

    preflight = gateway.options(
        target,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": f"content-type, {SECURITY_TOKEN.lower()}",
        },
    )
    put = gateway.put(
        target, headers={**dict(ticket.headers), "Origin": ORIGIN}, content=b"\x89PNG data"
    )
    tampered = gateway.put(
        target.replace("X-Retouch-Signature=", "X-Retouch-Signature=0"),
        headers={**dict(ticket.headers), "Origin": ORIGIN},
        content=b"\x89PNG data",
    )

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == ORIGIN
    assert "PUT" in preflight.headers["access-control-allow-methods"]
    assert put.status_code == 200
    assert put.headers["access-control-allow-origin"] == ORIGIN
    assert "etag" in put.headers["access-control-expose-headers"].lower()
    assert tampered.status_code == 403
    assert tampered.headers["content-type"] == "application/problem+json"
    assert tampered.headers["access-control-allow-origin"] == ORIGIN


def test_the_storage_route_refuses_another_origin_and_without_origins_is_405(
    gateway: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = {"Access-Control-Request-Method": "PUT"}

    evil = gateway.options("/_storage/uploads/a", headers={**asked, "Origin": "https://e.example"})
    monkeypatch.setenv("RETOUCH_CORS_ORIGINS", "")
    get_settings.cache_clear()
    without = gateway.options("/_storage/uploads/a", headers={**asked, "Origin": ORIGIN})

    assert evil.status_code == 400
    assert "access-control-allow-origin" not in evil.headers
    assert without.status_code == 405
    assert without.json()["code"] == "METHOD_NOT_ALLOWED"
    assert without.headers["allow"] == "GET, HEAD, PUT"
