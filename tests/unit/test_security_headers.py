"""Security headers on every response: nosniff, no-store for callers, HSTS over TLS, and a CSP
on anything that is not JSON (problem+json, 404/405 and health answers included)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.responses import PlainTextResponse
from fastapi.testclient import TestClient

from retouch.core.ratelimit import MemoryRateLimiter
from retouch.http import create_app
from retouch.http.security_headers import DOCS_POLICY, HSTS, STRICT_POLICY
from retouch.monitoring.router import router as health_router
from tests.probe_app import router as probe_router

BEARER = {"Authorization": "Bearer any-token"}


@pytest.fixture
def client() -> Iterator[TestClient]:
    app = create_app([probe_router, health_router], rate_limiter=MemoryRateLimiter())
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/probe/items/7", 200),
        ("GET", "/health", 200),
        ("GET", "/missing", 404),
        ("PUT", "/probe/echo", 405),
        ("POST", "/probe/echo", 422),
        ("GET", "/probe/boom", 500),
        ("GET", "/docs", 200),
    ],
)
def test_every_response_says_nosniff(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)

    assert response.status_code == status
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/probe/items/7"),
        ("GET", "/missing"),
        ("PUT", "/probe/echo"),
        ("GET", "/probe/boom"),
    ],
)
def test_an_answer_to_an_authenticated_request_is_not_stored(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(method, path, headers=BEARER)

    assert response.headers["cache-control"] == "no-store"


def test_an_anonymous_answer_gets_no_cache_header_of_ours(client: TestClient) -> None:
    assert "cache-control" not in client.get("/probe/items/7").headers


def test_a_route_that_sets_its_own_caching_keeps_it(client: TestClient) -> None:
    anonymous = client.get("/probe/cached")
    authenticated = client.get("/probe/cached", headers=BEARER)

    assert anonymous.headers.get_list("cache-control") == ["public, max-age=60"]
    assert authenticated.headers.get_list("cache-control") == ["public, max-age=60"]


def test_health_keeps_its_own_no_store_once(client: TestClient) -> None:
    assert client.get("/health", headers=BEARER).headers.get_list("cache-control") == ["no-store"]


@pytest.mark.parametrize(
    ("base_url", "headers"),
    [
        ("https://testserver", {}),
        ("http://testserver", {"X-Forwarded-Proto": "https"}),
    ],
)
def test_hsts_over_tls(base_url: str, headers: dict[str, str]) -> None:
    app = create_app([probe_router], rate_limiter=MemoryRateLimiter())
    with TestClient(app, base_url=base_url, raise_server_exceptions=False) as client:
        for path in ("/probe/items/7", "/missing"):
            response = client.get(path, headers=headers)
            assert response.headers["strict-transport-security"] == HSTS.decode()


def test_no_hsts_over_plain_http(client: TestClient) -> None:
    response = client.get("/probe/items/7", headers={"X-Forwarded-Proto": "http"})

    assert "strict-transport-security" not in response.headers


@pytest.mark.parametrize("path", ["/probe/items/7", "/missing", "/health", "/openapi.json"])
def test_json_answers_carry_no_csp(client: TestClient, path: str) -> None:
    response = client.get(path)

    assert response.headers["content-type"].split(";")[0].endswith("json")
    assert "content-security-policy" not in response.headers


def test_a_non_json_answer_gets_the_strict_csp() -> None:
    app = create_app([probe_router], rate_limiter=MemoryRateLimiter())

    @app.get("/plain", response_class=PlainTextResponse)
    def plain() -> str:
        return "text"

    with TestClient(app) as client:
        response = client.get("/plain")

    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["content-security-policy"] == STRICT_POLICY.decode()


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_docs_pages_get_a_policy_that_allows_exactly_what_they_load(
    client: TestClient, path: str
) -> None:
    response = client.get(path)
    policy = response.headers["content-security-policy"]

    assert policy == DOCS_POLICY.decode()
    assert "frame-ancestors 'none'" in policy
    # Every external script and stylesheet the page names is from a source the policy allows.
    for url in ("https://cdn.jsdelivr.net", "https://fonts.googleapis.com"):
        if url in response.text:
            assert url in policy
