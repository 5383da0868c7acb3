"""A hung MariaDB (its process stopped with SIGSTOP): user-facing requests and the health check
answer 503 within their own timeouts, not the jobs' one, and recover after SIGCONT without a
restart; reconnects are counted."""

from __future__ import annotations

import signal
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Stack, load_function
from tests.fakes.metrics import MemorySink
from tests.integration.identity_support import new_account

pytestmark = pytest.mark.integration

#: Generous bounds on a shared 2-core machine: the timeouts are 1.5 s (request) and 0.8 s
#: (health); before them, the first request of an instance waited 10 s.
REQUEST_BOUND_S = 3.5
HEALTH_BOUND_S = 2.0
#: A read that needs MySQL whatever the caller cache holds (`GET /v1/me` may not).
LEDGER = "/v1/me/quota/ledger"


@pytest.fixture(scope="module")
def apps(private_stack: Stack) -> tuple[Any, Any]:
    return (
        load_function("functions/http/users/app.py").app,
        load_function("functions/http/health/app.py").app,
    )


def _timed(client: TestClient, path: str, headers: dict[str, str] | None = None) -> Any:
    started = time.perf_counter()
    response = client.get(path, headers=headers or {})
    return response, time.perf_counter() - started


def _eventually(client: TestClient, path: str, headers: dict[str, str] | None = None) -> int:
    deadline = time.monotonic() + 15
    status = 0
    while time.monotonic() < deadline:
        status = client.get(path, headers=headers or {}).status_code
        if status == 200:
            break
        time.sleep(0.2)
    return status


def test_a_hung_database_costs_a_request_its_own_timeout_then_recovers(
    private_stack: Stack, apps: tuple[Any, Any], sink: MemorySink
) -> None:
    # GIVEN a signed-in user whose requests and health checks have warm connections
    users_app, health_app = apps
    _user, authorization = new_account()
    process = private_stack.mariadb.process
    assert process is not None
    with (
        TestClient(users_app, raise_server_exceptions=False) as users,
        TestClient(health_app, raise_server_exceptions=False) as health,
    ):
        assert users.get(LEDGER, headers=authorization).status_code == 200
        assert health.get("/health/db").status_code == 200

        # WHEN the server hangs
        process.send_signal(signal.SIGSTOP)
        try:
            me, me_s = _timed(users, LEDGER, authorization)
            checked, checked_s = _timed(health, "/health/db")
            again, again_s = _timed(users, LEDGER, authorization)
        finally:
            process.send_signal(signal.SIGCONT)

        # THEN the first request's 503 came within the request timeout, not 10 s
        assert me.status_code == 503
        assert me.json()["code"] == "SERVICE_UNAVAILABLE"
        assert me.headers["content-type"].startswith("application/problem+json")
        assert me_s < REQUEST_BOUND_S
        assert checked.status_code == 503
        assert checked_s < HEALTH_BOUND_S
        assert again.status_code == 503
        assert again_s < REQUEST_BOUND_S

        # AND after SIGCONT the same process serves again, on new connections
        assert _eventually(users, LEDGER, authorization) == 200
        assert _eventually(health, "/health/db") == 200
    counted = [
        (name, dimensions.get("use")) for name, _, _, dimensions in sink.pending + sink.delivered()
    ]
    assert counted.count(("DbReconnects", "request")) >= 1
    assert counted.count(("DbReconnects", "health")) >= 1
    assert counted.count(("DbConnections", "request")) >= 2
