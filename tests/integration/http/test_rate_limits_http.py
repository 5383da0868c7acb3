"""Rate limits on a real Redis: through each platform's events, and with Redis gone.

Redis down: ordinary requests fail open (served, no RateLimit headers, one warning); a limit
checked with the default `fail_open=False` (login) raises 503; the limiter skips Redis for a
moment after a failure so an outage costs one timeout, not one per request; it recovers alone.
"""

from __future__ import annotations

import copy
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retouch.core.ratelimit import Limit, RateLimiterUnavailable, get_rate_limiter
from tests.conftest import FakeLambdaContext, LogLines, Stack, load_event, load_function
from tests.probe_app import build_probe_app

pytestmark = pytest.mark.integration

SHAPES = {
    "aws_rest": ("health_aws_rest.json", ("requestContext", "identity")),
    "aws_http": ("health_aws_http.json", ("requestContext", "http")),
    "scf_apigw": ("health_scf_apigw.json", ("requestContext",)),
}
SKIP_S = 0.3
WARNING = "rate limiter unavailable; skipping it"


def unique_ip() -> str:
    """A random 10.x address: the session's Redis keeps every counter for a minute."""
    return "10." + ".".join(str(byte) for byte in uuid.uuid4().bytes[:3])


def event_from(shape: str, source_ip: str) -> dict[str, Any]:
    file_name, path = SHAPES[shape]
    event = copy.deepcopy(load_event(file_name))
    holder = event
    for part in path:
        holder = holder[part]
    holder["sourceIp"] = source_ip
    return event


def headers_of(response: dict[str, Any]) -> dict[str, Any]:
    return {name.lower(): value for name, value in response["headers"].items()}


@pytest.mark.parametrize("shape", SHAPES)
def test_each_platform_is_limited_by_its_source_ip(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, shape: str
) -> None:
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_PER_IP_PER_MIN", "3")
    handler = load_function("functions/http/health/app.py").handler
    address, other = unique_ip(), unique_ip()

    answers = [handler(event_from(shape, address), FakeLambdaContext()) for _ in range(4)]
    elsewhere = handler(event_from(shape, other), FakeLambdaContext())

    assert [answer["statusCode"] for answer in answers] == [200, 200, 200, 429]
    assert [headers_of(a)["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert headers_of(answers[0])["ratelimit-limit"] == "3"
    assert int(headers_of(answers[-1])["retry-after"]) >= 1
    assert elsewhere["statusCode"] == 200
    assert headers_of(elsewhere)["ratelimit-remaining"] == "2"


@pytest.fixture
def private_redis(private_stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """The module's own servers with a short skip window; Redis is running again after."""
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_RETRY_AFTER_FAILURE_S", str(SKIP_S))
    yield private_stack
    if private_stack.redis.process is None:
        private_stack.redis.start()


def test_requests_fail_open_while_redis_is_down_and_limits_return_after(
    private_redis: Stack, log_lines: LogLines
) -> None:
    with TestClient(build_probe_app(), raise_server_exceptions=False) as client:
        assert "ratelimit-limit" in client.get("/probe/items/1").headers

        private_redis.redis.stop()
        down = [client.get("/probe/items/1") for _ in range(5)]

        assert [response.status_code for response in down] == [200] * 5
        assert not any("ratelimit-limit" in response.headers for response in down)
        (warning,) = log_lines.with_message(WARNING)
        assert warning["level"] == "WARNING"
        assert warning["error"] == "ConnectionError"

        private_redis.redis.start()
        time.sleep(SKIP_S)
        back = client.get("/probe/items/1")

    assert back.status_code == 200
    assert "ratelimit-limit" in back.headers


def test_a_fail_closed_limit_raises_503_while_redis_is_down(private_redis: Stack) -> None:
    limiter, limit = get_rate_limiter(), Limit("login_test", 5, 60)
    assert limiter.hit(limit, "alice@example.com|203.0.113.7").allowed

    private_redis.redis.stop()
    with pytest.raises(RateLimiterUnavailable) as refused:
        limiter.hit(limit, "alice@example.com|203.0.113.7")
    with pytest.raises(RateLimiterUnavailable):  # skipped: no second connection attempt
        limiter.hit(limit, "alice@example.com|203.0.113.7")

    assert refused.value.error_code.status == 503
    private_redis.redis.start()
    time.sleep(SKIP_S)
    # Redis (no persistence) restarted empty: counting starts afresh.
    assert limiter.hit(limit, "alice@example.com|203.0.113.7").remaining == 4


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A port that accepts connections and never answers: Redis hung, not refused."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield f"redis://127.0.0.1:{listener.getsockname()[1]}/0"


def test_a_hung_redis_costs_one_timeout_then_nothing_until_the_skip_ends(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, silent_server: str
) -> None:
    monkeypatch.setenv("RETOUCH_REDIS_URL", silent_server)
    monkeypatch.setenv("RETOUCH_REDIS_TIMEOUT_S", "0.1")
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_RETRY_AFTER_FAILURE_S", "5")
    limiter, limit = get_rate_limiter(), Limit("hung_test", 5, 60)

    started = time.perf_counter()
    first = limiter.hit(limit, "client", fail_open=True)
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    later = [limiter.hit(limit, "client", fail_open=True) for _ in range(100)]
    later_s = time.perf_counter() - started

    assert (first.allowed, first.enforced) == (True, False)
    assert all(decision.allowed and not decision.enforced for decision in later)
    assert 0.1 <= first_s < 1.0  # the client's timeout (and its one retry), no more
    assert later_s < 0.05
