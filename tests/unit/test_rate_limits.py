"""HTTP rate limits with the in-memory limiter: per IP on every request, per caller by route."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import Depends, Header
from fastapi.testclient import TestClient

from retouch.core.ratelimit import MemoryRateLimiter
from retouch.http import api_router, create_app
from retouch.http.problems import PROBLEM_CONTENT_TYPE
from retouch.http.rate_limits import client_address, rate_limit
from tests.probe_app import router as probe_router

PER_IP, PER_USER = 6, 2


async def caller_id(x_user: str = Header()) -> str:
    """Stands in for the authenticated user's id."""
    return x_user


tasks = api_router(prefix="/v1/tasks")


@tasks.post("", status_code=202, dependencies=[Depends(rate_limit(key=caller_id))])
def create_task() -> dict[str, str]:
    return {"status": "queued"}


@pytest.fixture(autouse=True)
def small_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_PER_IP_PER_MIN", str(PER_IP))
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_TASKS_PER_USER_PER_MIN", str(PER_USER))


@pytest.fixture
def limiter() -> MemoryRateLimiter:
    return MemoryRateLimiter()


def client_from(limiter: MemoryRateLimiter, address: str) -> TestClient:
    app = create_app([probe_router, tasks], rate_limiter=limiter)
    return TestClient(app, raise_server_exceptions=False, client=(address, 50000))


@pytest.fixture
def client(limiter: MemoryRateLimiter) -> Iterator[TestClient]:
    with client_from(limiter, "203.0.113.7") as test_client:
        yield test_client


def test_successful_responses_carry_the_rate_limit_headers(client: TestClient) -> None:
    first = client.get("/probe/items/1")
    second = client.get("/probe/items/1")

    assert first.status_code == 200
    assert first.headers["ratelimit-limit"] == str(PER_IP)
    assert [first.headers["ratelimit-remaining"], second.headers["ratelimit-remaining"]] == [
        str(PER_IP - 1),
        str(PER_IP - 2),
    ]
    assert int(first.headers["ratelimit-reset"]) >= 1
    assert "retry-after" not in first.headers


def test_the_request_after_the_limit_is_a_429_problem_with_retry_after(
    client: TestClient,
) -> None:
    statuses = [client.get("/probe/items/1").status_code for _ in range(PER_IP)]

    refused = client.get("/probe/items/1", headers={"X-Request-ID": "refused-request-1"})

    assert statuses == [200] * PER_IP
    assert refused.status_code == 429
    assert refused.headers["content-type"] == PROBLEM_CONTENT_TYPE
    assert refused.json()["code"] == "RATE_LIMITED"
    assert refused.json()["request_id"] == refused.headers["x-request-id"]
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["ratelimit-remaining"] == "0"
    assert refused.headers["ratelimit-limit"] == str(PER_IP)
    assert refused.headers.get_list("ratelimit-limit") == [str(PER_IP)]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),
        ("GET", "/probe/items/x", 422),
        ("GET", "/probe/boom", 500),
        ("PUT", "/probe/echo", 405),
    ],
)
def test_error_responses_carry_the_headers_and_count(
    client: TestClient, method: str, path: str, status: int
) -> None:
    response = client.request(method, path)
    after = client.get("/probe/items/1")

    assert response.status_code == status
    assert response.headers["ratelimit-remaining"] == str(PER_IP - 1)
    assert after.headers["ratelimit-remaining"] == str(PER_IP - 2)


def test_a_body_too_large_is_refused_and_still_counted(client: TestClient) -> None:
    response = client.post("/probe/echo", content=b"{}", headers={"Content-Length": "999999"})

    assert response.status_code == 413
    assert response.headers["ratelimit-remaining"] == str(PER_IP - 1)


def test_client_addresses_are_limited_separately(limiter: MemoryRateLimiter) -> None:
    with (
        client_from(limiter, "198.51.100.1") as first,
        client_from(limiter, "198.51.100.2") as other,
    ):
        for _ in range(PER_IP):
            first.get("/probe/items/1")

        assert first.get("/probe/items/1").status_code == 429
        assert other.get("/probe/items/1").headers["ratelimit-remaining"] == str(PER_IP - 1)


@pytest.mark.parametrize(
    ("client", "address"),
    [
        (("203.0.113.9", 1), "203.0.113.9"),
        (("2001:db8:1:2:aaaa::1", 1), "2001:db8:1:2::/64"),
        (("2001:db8:1:2:bbbb::9", 1), "2001:db8:1:2::/64"),
        (("not-an-address:x", 1), "not-an-address:x"),
        ((None, 0), "unknown"),
        (None, "unknown"),
    ],
)
def test_client_address_is_the_peer_and_ipv6_counts_per_64(
    client: tuple[str | None, int] | None, address: str
) -> None:
    assert client_address({"type": "http", "client": client}) == address


def test_a_forwarded_for_header_does_not_change_the_key(client: TestClient) -> None:
    for n in range(PER_IP):
        client.get("/probe/items/1", headers={"X-Forwarded-For": f"192.0.2.{n}"})

    assert (
        client.get("/probe/items/1", headers={"X-Forwarded-For": "192.0.2.99"}).status_code == 429
    )


def test_a_route_in_the_table_is_also_limited_per_caller(client: TestClient) -> None:
    alice = [client.post("/v1/tasks", headers={"X-User": "usr_alice"}) for _ in range(PER_USER + 1)]
    bob = client.post("/v1/tasks", headers={"X-User": "usr_bob"})

    assert [response.status_code for response in alice] == [202] * PER_USER + [429]
    assert alice[0].headers["ratelimit-limit"] == str(PER_USER)  # the tighter of the two limits
    assert alice[0].headers["ratelimit-remaining"] == str(PER_USER - 1)
    refused = alice[-1]
    assert refused.json()["code"] == "RATE_LIMITED"
    assert refused.headers.get_list("ratelimit-limit") == [str(PER_USER)]
    assert int(refused.headers["retry-after"]) >= 1
    assert bob.status_code == 202


def test_the_per_ip_limit_covers_the_per_caller_routes_too(client: TestClient) -> None:
    for n in range(PER_IP):
        client.post("/v1/tasks", headers={"X-User": f"usr_{n}"})

    refused = client.post("/v1/tasks", headers={"X-User": "usr_fresh"})

    assert refused.status_code == 429
    assert refused.headers["ratelimit-limit"] == str(PER_IP)


def test_a_route_in_the_table_must_declare_the_dependency() -> None:
    undeclared = api_router(prefix="/v1/tasks")

    @undeclared.post("")
    def create_task_without_limit() -> None: ...

    with pytest.raises(RuntimeError, match=r"POST /v1/tasks is in ROUTE_LIMITS"):
        create_app([undeclared], rate_limiter=MemoryRateLimiter())


def test_a_route_declaring_the_dependency_must_be_in_the_table() -> None:
    unlisted = api_router()

    @unlisted.post("/v1/elsewhere", dependencies=[Depends(rate_limit(key=caller_id))])
    def elsewhere() -> None: ...

    with pytest.raises(RuntimeError, match=r"POST /v1/elsewhere declares rate_limit"):
        create_app([unlisted], rate_limiter=MemoryRateLimiter())
