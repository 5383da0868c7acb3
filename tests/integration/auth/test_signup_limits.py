"""Sign-up limits against the real functions, MariaDB and Redis: a flood of registrations
from one address on the local gateway is held to its limit while /health stays fast; the per
network and service-wide limits; the hashing cap answering 503 before hashing. A refused
registration creates no account, and an accepted one no credits until it is verified."""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from retouch.auth.hashing import hashing_slot
from retouch.bootstrap.clients import reset_clients
from retouch.core.db import get_database
from retouch.core.ratelimit import Limit, storage_key
from retouch.core.redis import get_redis
from retouch.core.settings import get_settings
from scripts.local.gateway import create_gateway
from scripts.local.sam import load_template
from scripts.local.servers import serving_app
from tests.conftest import Stack
from tests.integration.identity_support import PASSWORD, new_email

pytestmark = pytest.mark.integration

FLOOD = 50
PER_IP = 5


def _forget_limits(*keys: tuple[str, str]) -> None:
    redis = get_redis()
    for name, key in keys:
        redis.delete(storage_key(Limit(name, 1, 1), key))


def _accounts(emails: list[str]) -> tuple[int, int]:
    """(users, quota accounts) of these addresses."""
    marks = ", ".join(["%s"] * len(emails))
    with get_database().unit_of_work() as uow:
        users = uow.fetch_one(f"SELECT COUNT(*) AS n FROM users WHERE email IN ({marks})", emails)  # noqa: S608 - placeholders only
        quota = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM quota_accounts q JOIN users u ON u.id = q.user_id "  # noqa: S608 - placeholders only
            f"WHERE u.email IN ({marks})",
            emails,
        )
    assert users is not None and quota is not None
    return int(users["n"]), int(quota["n"])


def _credits(emails: list[str]) -> tuple[int, int]:
    """(credits on the balances, ledger rows) of these addresses' accounts."""
    marks = ", ".join(["%s"] * len(emails))
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT COALESCE(SUM(q.balance + q.reserved), 0) AS credits, "  # noqa: S608 - placeholders only
            "(SELECT COUNT(*) FROM quota_ledger l JOIN users v ON v.id = l.user_id "
            f"WHERE v.email IN ({marks})) AS grants "
            f"FROM quota_accounts q JOIN users u ON u.id = q.user_id WHERE u.email IN ({marks})",
            [*emails, *emails],
        )
    assert row is not None
    return int(row["credits"]), int(row["grants"])


@pytest.fixture
def limits(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_REGISTER_PER_IP_PER_HOUR", str(PER_IP))
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_REGISTER_PER_NETWORK_PER_HOUR", str(PER_IP * 4))
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_REGISTER_GLOBAL_PER_MIN", "100000")
    # the defaults of the hashing cap (the suite's own waits long)
    monkeypatch.delenv("RETOUCH_PASSWORD_HASH_CONCURRENCY", raising=False)
    monkeypatch.delenv("RETOUCH_PASSWORD_HASH_WAIT_MS", raising=False)
    reset_clients()
    _forget_limits(("register_ip", "127.0.0.1"), ("register_net", "127.0.0.0/24"))
    yield
    reset_clients()


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def test_a_flood_of_registrations_from_one_address_is_held_and_health_stays_fast(
    limits: None,
) -> None:
    emails = [new_email("flood") for _ in range(FLOOD)]
    health: list[float] = []
    flooding = threading.Event()

    with serving_app(create_gateway(load_template())) as url:

        async def flood() -> list[int]:
            # one client thread for the 50: the flood's clients take no GIL from the gateway
            limits = httpx.Limits(max_connections=FLOOD)
            async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
                flooding.set()
                answers = await asyncio.gather(
                    *(
                        client.post("/v1/auth/register", json={"email": e, "password": PASSWORD})
                        for e in emails
                    )
                )
            return [answer.status_code for answer in answers]

        def probe() -> None:
            with httpx.Client(base_url=url, timeout=30) as client:
                client.get("/health")  # warm
                flooding.wait()
                for _ in range(100):
                    started = time.perf_counter()
                    assert client.get("/health").status_code == 200
                    health.append(time.perf_counter() - started)

        # the auth function's cold start (a 422: validated before anything is counted)
        assert httpx.post(f"{url}/v1/auth/register", json={}, timeout=30).status_code == 422
        prober = threading.Thread(target=probe)
        prober.start()
        statuses = asyncio.run(flood())
        prober.join()

    p50, p99 = _percentile(health, 0.5), _percentile(health, 0.99)
    counts = {status: statuses.count(status) for status in set(statuses)}
    figures = f"/health p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms"
    print(f"flood of {FLOOD} registrations: {counts}; {figures}")  # noqa: T201
    # the limit holds: at most PER_IP got through (a few may have met the hashing cap)
    assert set(statuses) <= {202, 429, 503}
    assert counts.get(202, 0) <= PER_IP
    assert counts.get(429, 0) >= FLOOD - PER_IP
    assert counts.get(202, 0) + counts.get(503, 0) <= PER_IP
    # no account for any refused registration; the accepted ones are unverified, and no
    # credits were granted to any of them (the unverified allowance is 0)
    assert _accounts(emails) == (counts.get(202, 0), counts.get(202, 0))
    assert _credits(emails) == (0, 0)
    # /health has its own workers on the local gateway, and a hash takes one core of two:
    # 41-76 ms at a load average of 16-32 on the shared 2-core machine, 238 ms at 35 with a
    # test suite beside it. Loosely bounded for a shared machine (the flood took it to
    # seconds before the limits, and to 0.64 s while every function shared four workers);
    # test_gateway.py proves that one function's flood cannot hold another's workers.
    assert p99 < 0.5


def _register(app: Any, ip: str) -> tuple[int, str]:
    email = new_email("net")
    with TestClient(app, client=(ip, 50000), raise_server_exceptions=False) as client:
        response = client.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
    return response.status_code, email


def test_one_network_shares_an_allowance(
    limits: None, identity_apps: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_REGISTER_PER_NETWORK_PER_HOUR", "3")
    reset_clients()
    auth, _ = identity_apps
    block = f"198.19.{secrets.randbelow(256)}"
    _forget_limits(("register_net", f"{block}.0/24"), ("register_net", "198.19.255.0/24"))
    results = [_register(auth, f"{block}.{host}") for host in (1, 2, 3, 4)]
    assert [status for status, _ in results] == [202, 202, 202, 429]
    assert _accounts([email for _, email in results]) == (3, 3)
    # another network is not refused by this one's spent allowance
    other = "198.19.255.9" if block != "198.19.255" else "198.19.254.9"
    assert _register(auth, other)[0] == 202


def test_the_sign_up_circuit_refuses_every_network_once_spent(
    limits: None, identity_apps: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_REGISTER_GLOBAL_PER_MIN", "2")
    reset_clients()
    _forget_limits(("register_all", "all"))
    auth, _ = identity_apps
    statuses = [_register(auth, f"203.0.{n}.7")[0] for n in (10, 20, 30)]
    assert statuses == [202, 202, 429]
    _forget_limits(("register_all", "all"))


def test_beyond_the_hashing_cap_a_request_is_refused_at_once_with_retry_after(
    limits: None, identity_apps: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_PASSWORD_HASH_CONCURRENCY", "1")
    monkeypatch.setenv("RETOUCH_PASSWORD_HASH_WAIT_MS", "0")
    reset_clients()
    auth, _ = identity_apps
    # GIVEN the instance's one hashing slot is taken
    with hashing_slot(get_settings()):
        started = time.perf_counter()
        status, email = _register(auth, f"192.0.2.{secrets.randbelow(250) + 1}")
        elapsed = time.perf_counter() - started
    # THEN the registration is refused at once, and nothing was created
    assert status == 503
    assert elapsed < 1.0
    assert _accounts([email]) == (0, 0)
    # AND with the slot free it goes through
    assert _register(auth, f"192.0.2.{secrets.randbelow(250) + 1}")[0] == 202
