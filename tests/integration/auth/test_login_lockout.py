"""The per-account sign-in limit across addresses, its lockout with backoff on a real Redis,
and the audit rows of failed sign-ins, against the real auth function and MariaDB."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retouch.core.lockout import Lockouts, RedisLockouts
from retouch.core.redis import get_redis
from tests.clock import Clock
from tests.conftest import Stack
from tests.fakes.lockouts import MemoryLockouts
from tests.integration.identity_support import (
    PASSWORD,
    Api,
    audit_rows,
    new_client_ip,
    new_email,
)

pytestmark = pytest.mark.integration

FAILURES = 4


def _login_from_new_address(identity_apps: tuple[Any, Any], email: str, password: str) -> Any:
    with TestClient(identity_apps[0], client=(new_client_ip(), 50000)) as client:
        return client.post("/v1/auth/login", json={"email": email, "password": password})


def test_failures_from_many_addresses_lock_the_account_even_for_the_right_password(
    api: Api, identity_apps: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a limit of 4 failed sign-ins per account a minute, from any address
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_MIN", str(FAILURES))
    victim = api.register()["user"]["email"]
    bystander = api.register()["user"]["email"]

    # WHEN 4 addresses each guess once (each far below its own per-address limits)
    guesses = [
        _login_from_new_address(identity_apps, victim, "Wrong-Password-1").status_code
        for _ in range(FAILURES)
    ]

    # THEN the next attempt is refused, from a new address and with the right password
    refused = _login_from_new_address(identity_apps, victim, PASSWORD)
    assert guesses == [401] * FAILURES
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["code"] == "RATE_LIMITED"
    assert 55 <= int(refused.headers["retry-after"]) <= 60
    # AND another account signs in as usual
    assert _login_from_new_address(identity_apps, bystander, PASSWORD).status_code == 200


def test_an_address_the_account_signed_in_from_is_let_through_its_lockout(
    api: Api, identity_apps: tuple[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the owner signed in from this test's address, then others locked the account
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_MIN", str(FAILURES))
    email = api.register()["user"]["email"]
    assert api.login(email).status_code == 200
    for _ in range(FAILURES):
        _login_from_new_address(identity_apps, email, "Wrong-Password-1")
    assert _login_from_new_address(identity_apps, email, PASSWORD).status_code == 429

    # WHEN the owner signs in from the known address
    response = api.login(email)

    # THEN they are admitted
    assert response.status_code == 200


def test_a_failed_login_is_audited_without_an_actor_and_without_the_password(api: Api) -> None:
    # GIVEN an account
    registered = api.register()
    email = registered["user"]["email"]

    # WHEN a wrong password is tried, labelled by the client
    response = api.auth.post(
        "/v1/auth/login",
        json={"email": email, "password": "Wrong-Password-1"},
        headers={"X-Request-ID": "login-probe-1"},
    )

    # THEN a row names the account as the target, no actor, the reason, both request ids
    assert response.status_code == 401
    (row,) = audit_rows(registered["user"]["id"])
    assert (row["action"], row["actor"], row["target_type"]) == (
        "auth.login_failed",
        None,
        "user",
    )
    assert row["after_state"]["reason"] == "wrong_password"
    assert (row["request_id"], row["client_request_id"]) == (
        response.headers["x-request-id"],
        "login-probe-1",
    )
    assert "Wrong-Password-1" not in str(row)


def test_a_failed_login_of_an_unknown_email_is_audited_with_the_email_masked(api: Api) -> None:
    email = new_email("nobody")

    response = api.login(email, "Wrong-Password-1")

    assert response.status_code == 401
    masked = f"{email[0]}***@example.com"
    # (other tests' unknown emails may share the mask: this request's row is the one)
    (row,) = [
        row for row in audit_rows(masked) if row["request_id"] == response.headers["x-request-id"]
    ]
    assert (row["action"], row["actor"], row["target_type"]) == (
        "auth.login_failed",
        None,
        "email",
    )
    assert row["after_state"]["reason"] == "unknown_account"
    assert email not in str(row)


@pytest.fixture(params=["redis", "memory"])
def lockouts(request: pytest.FixtureRequest, stack: Stack) -> tuple[Lockouts, Clock]:
    clock = Clock()
    if request.param == "redis":
        return RedisLockouts(get_redis(), clock=clock), clock
    return MemoryLockouts(clock), clock


def test_lockouts_double_up_to_the_cap_and_end(lockouts: tuple[Lockouts, Clock]) -> None:
    # The Redis scripts and the in-memory fake the unit tests use, held to the same rules.
    store, clock = lockouts
    key = f"lockout-{uuid.uuid4().hex}"
    assert store.locked_for(key) == 0

    locks = []
    for _ in range(5):
        locks.append(store.trip(key, base_s=60, max_s=300))
        assert store.locked_for(key) == locks[-1]
        clock.advance(locks[-1] - 0.5)
        assert store.locked_for(key) == 1
        clock.advance(0.5)
        assert store.locked_for(key) == 0

    assert locks == [60, 120, 240, 300, 300]


def test_known_clients_are_remembered_per_key(lockouts: tuple[Lockouts, Clock]) -> None:
    store, _ = lockouts
    key = f"known-{uuid.uuid4().hex}"

    store.remember(key, "192.0.2.1", ttl_s=3600)

    assert store.is_known(key, "192.0.2.1")
    assert not store.is_known(key, "192.0.2.2")
    assert not store.is_known(f"{key}-other", "192.0.2.1")
