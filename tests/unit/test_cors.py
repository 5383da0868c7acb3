"""CORS from `RETOUCH_CORS_ORIGINS`: allowed origins only, preflight answered, no credentials."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from retouch.core.ratelimit import MemoryRateLimiter
from retouch.core.settings import SettingsError, get_settings
from tests.probe_app import build_probe_app

ALLOWED = "https://app.retouch.example"
PREFLIGHT = {
    "Origin": ALLOWED,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
}


def _client(monkeypatch: pytest.MonkeyPatch, origins: str | None) -> TestClient:
    if origins is None:
        monkeypatch.delenv("RETOUCH_CORS_ORIGINS", raising=False)
    else:
        monkeypatch.setenv("RETOUCH_CORS_ORIGINS", origins)
    get_settings.cache_clear()
    return TestClient(build_probe_app(rate_limiter=MemoryRateLimiter()))


@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    with _client(monkeypatch, f"{ALLOWED}, http://localhost:5173") as test_client:
        yield test_client


def test_an_allowed_origin_is_allowed_and_sees_our_headers(client: TestClient) -> None:
    response = client.get("/probe/items/7", headers={"Origin": ALLOWED})

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    exposed = {
        name.strip().lower()
        for name in response.headers["access-control-expose-headers"].split(",")
    }
    assert {"x-request-id", "etag", "ratelimit-remaining", "retry-after"} <= exposed
    assert "access-control-allow-credentials" not in response.headers


def test_another_origin_gets_no_cors_header(client: TestClient) -> None:
    response = client.get("/probe/items/7", headers={"Origin": "https://evil.example"})

    # Starlette still lists the exposed headers; without Allow-Origin the browser reads nothing.
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers


def test_a_preflight_from_an_allowed_origin_is_answered(client: TestClient) -> None:
    response = client.options("/probe/echo", headers=PREFLIGHT)

    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = {
        name.strip().lower() for name in response.headers["access-control-allow-headers"].split(",")
    }
    assert {
        "authorization",
        "content-type",
        "idempotency-key",
        "x-request-id",
        "if-none-match",
    } <= allowed
    assert "access-control-allow-credentials" not in response.headers


def test_a_preflight_from_another_origin_is_refused(client: TestClient) -> None:
    response = client.options(
        "/probe/echo", headers={**PREFLIGHT, "Origin": "https://evil.example"}
    )

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_errors_the_middleware_answers_itself_carry_cors_headers(client: TestClient) -> None:
    response = client.post(
        "/probe/echo", content=b"x", headers={"Origin": ALLOWED, "Content-Type": "text/plain"}
    )

    assert response.status_code == 415
    assert response.headers["access-control-allow-origin"] == ALLOWED


@pytest.mark.parametrize("origins", [None, ""])
def test_without_origins_no_response_has_a_cors_header(
    monkeypatch: pytest.MonkeyPatch, origins: str | None
) -> None:
    with _client(monkeypatch, origins) as client:
        simple = client.get("/probe/items/7", headers={"Origin": ALLOWED})
        preflight = client.options("/probe/echo", headers=PREFLIGHT)

    for response in (simple, preflight):
        assert not [name for name in response.headers if name.startswith("access-control-")]
    assert preflight.status_code == 405


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("https://a.example,http://localhost:5173", ["https://a.example", "http://localhost:5173"]),
        (
            '["https://a.example", "https://b.example:8443"]',
            ["https://a.example", "https://b.example:8443"],
        ),
        (" ", []),
    ],
)
def test_origins_are_read_as_a_list_or_json(
    monkeypatch: pytest.MonkeyPatch, value: str, parsed: list[str]
) -> None:
    monkeypatch.setenv("RETOUCH_CORS_ORIGINS", value)

    assert get_settings().cors_origins == parsed


@pytest.mark.parametrize("value", ["*", "https://a.example/", "https://A.example", "a.example"])
def test_anything_but_an_exact_origin_is_refused_by_name(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("RETOUCH_CORS_ORIGINS", value)

    with pytest.raises(SettingsError, match="RETOUCH_CORS_ORIGINS"):
        get_settings()
