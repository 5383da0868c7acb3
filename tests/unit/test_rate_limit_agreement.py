"""On every 429, `Retry-After` and `RateLimit-Reset` say the same wait, and waiting that long
is enough: the per-IP limit through the app, any limit's refusal, and a locked account."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from fastapi.testclient import TestClient

from retouch.auth.attempts import LoginGuard
from retouch.core.ratelimit import Limit, MemoryRateLimiter, RateLimited
from retouch.core.settings import get_settings
from retouch.http import create_app
from retouch.http.problems import problem_response
from tests.clock import Clock
from tests.fakes.lockouts import MemoryLockouts
from tests.probe_app import router as probe_router

PER_IP = 4


def assert_agree(headers: Mapping[str, str]) -> int:
    assert headers.get("Retry-After") == headers.get("RateLimit-Reset"), headers
    assert headers.get("RateLimit-Remaining") == "0"
    wait = int(headers["Retry-After"])
    assert wait >= 1
    return wait


def test_the_apps_429_agrees_and_the_wait_it_names_is_enough(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_PER_IP_PER_MIN", str(PER_IP))
    clock = Clock()
    app = create_app([probe_router], rate_limiter=MemoryRateLimiter(clock=clock))
    with TestClient(app, raise_server_exceptions=False) as client:
        for _ in range(PER_IP):
            assert client.get("/probe/items/1").status_code == 200
        refused = client.get("/probe/items/1")

        assert refused.status_code == 429
        wait = assert_agree(refused.headers)
        assert refused.json()["detail"] == f"请求过于频繁，请在 {wait} 秒后重试"
        clock.advance(wait - 1)
        assert client.get("/probe/items/1").status_code == 429
        clock.advance(1)
        assert client.get("/probe/items/1").status_code == 200


@pytest.mark.parametrize("rate", [1, 2, 5, 7, 60, 600])
def test_every_refusal_of_any_limit_agrees(rate: int) -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock=clock)
    limit = Limit("probe", rate, 60)
    refusals = 0
    for step in range(3 * rate + 5):
        decision = limiter.hit(limit, "k")
        if not decision.allowed:
            refusals += 1
            error = RateLimited.from_decision(decision)
            wait = assert_agree(error.headers)
            english = problem_response(error, request_id=None, language="en")
            assert english.headers["retry-after"] == english.headers["ratelimit-reset"]
            clock.advance(wait)
            assert limiter.hit(limit, "k").allowed
        clock.advance(0.01 * (step % 3))
    assert refusals > 0


def test_a_locked_accounts_429_names_the_lockout_in_both_headers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_LOGIN_FAILURES_PER_ACCOUNT_PER_MIN", "3")
    monkeypatch.setenv("RETOUCH_LOGIN_LOCKOUT_BASE_S", "60")
    settings = get_settings()
    clock = Clock()
    guard = LoginGuard(limiter=MemoryRateLimiter(clock=clock), lockouts=MemoryLockouts(clock))
    for n in range(3):
        guard.admit(email="victim@example.com", client_ip=f"203.0.113.{n + 1}")
        guard.failed(settings, email="victim@example.com")

    with pytest.raises(RateLimited) as refused:
        guard.admit(email="victim@example.com", client_ip="198.51.100.9")

    # The lockout's own RateLimit-* travel with it, so the per-IP decision's are not added.
    assert assert_agree(refused.value.headers) == 60
    assert refused.value.headers["RateLimit-Limit"] == "3"
