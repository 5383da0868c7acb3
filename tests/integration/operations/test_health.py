"""Health endpoints against a real MariaDB and Redis that the test stops and starts."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Stack, load_function

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client(private_stack: Stack) -> Iterator[TestClient]:
    health = load_function("functions/http/health/app.py")
    with TestClient(health.app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def _servers_running(private_stack: Stack) -> Iterator[None]:
    """Every test starts and ends with both servers up, even when it failed midway."""
    yield
    if private_stack.mariadb.process is None:
        private_stack.mariadb.start()
    if private_stack.redis.process is None:
        private_stack.redis.start()


def test_process_health_is_ok(client: TestClient) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("check", ["db", "redis"])
def test_dependency_health_is_ok_with_latency(client: TestClient, check: str) -> None:
    response = client.get(f"/health/{check}")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["check"] == check
    assert body["latency_ms"] > 0
    assert "code" not in body


def test_database_down_then_back_without_a_restart(
    client: TestClient, private_stack: Stack
) -> None:
    # GIVEN a healthy database, its connection already open
    assert client.get("/health/db").status_code == 200

    # WHEN the server stops
    private_stack.mariadb.stop()
    down = client.get("/health/db")

    # THEN health says so, with the problem code
    assert down.status_code == 503
    assert down.json()["status"] == "down"
    assert down.json()["code"] == "SERVICE_UNAVAILABLE"
    assert down.headers["x-request-id"]

    # WHEN it comes back, THEN the same process is healthy again
    private_stack.mariadb.start()
    assert _eventually_ok(client, "/health/db")


def test_redis_down_then_back_without_a_restart(client: TestClient, private_stack: Stack) -> None:
    assert client.get("/health/redis").status_code == 200

    private_stack.redis.stop()
    down = client.get("/health/redis")

    assert down.status_code == 503
    assert down.json() | {"latency_ms": 0} == {
        "status": "down",
        "check": "redis",
        "latency_ms": 0,
        "code": "SERVICE_UNAVAILABLE",
        "detail": "redis unreachable",
    }

    private_stack.redis.start()
    assert _eventually_ok(client, "/health/redis")


def test_redis_down_leaves_database_health_unaffected(
    client: TestClient, private_stack: Stack
) -> None:
    private_stack.redis.stop()

    assert client.get("/health/redis").status_code == 503
    assert client.get("/health/db").status_code == 200
    assert client.get("/health").status_code == 200


def _eventually_ok(client: TestClient, path: str, attempts: int = 50) -> bool:
    """Poll until 200: the client's fail-fast window after a failed connect is short."""
    for _ in range(attempts):
        if client.get(path).status_code == 200:
            return True
        time.sleep(0.1)
    return False
