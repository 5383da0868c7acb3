"""Register, login and the login limits, against the real auth function, MariaDB and Redis."""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from retouch.auth.router import router
from retouch.auth.service import register
from retouch.core.caller_cache import HashRead
from retouch.core.db import get_database
from retouch.core.ratelimit import RateLimiter, RateLimiterUnavailable
from retouch.core.settings import get_settings
from retouch.http import create_app
from tests.conftest import Stack
from tests.fakes.mailer import RecordingMailer
from tests.integration.identity_support import (
    PASSWORD,
    Api,
    mail_to,
    new_client_ip,
    new_email,
    set_access,
)

pytestmark = pytest.mark.integration


def _user_count(email: str) -> int:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one("SELECT COUNT(*) AS n FROM users WHERE email = %s", (email,))
    assert row is not None
    return int(row["n"])


def _problem(response_json: dict[str, object]) -> dict[str, object]:
    """A problem body without its per-request parts."""
    return {key: value for key, value in response_json.items() if key != "request_id"}


def _without_numbers(problem: dict[str, object]) -> dict[str, object]:
    """A problem body with each number in its texts read as N."""
    return {
        key: re.sub(r"\d+", "N", value) if isinstance(value, str) else value
        for key, value in problem.items()
    }


def test_a_verified_sign_up_answers_a_token_pair_that_works(api: Api) -> None:
    # WHEN someone registers and opens the mailed link
    email = new_email()
    body = api.register(email)

    # THEN verifying answers their user and a token pair
    assert set(body) == {"user", "access_token", "refresh_token", "expires_in", "token_type"}
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 900)
    assert set(body["user"]) == {"id", "email", "role", "created_at"}
    assert body["user"]["id"].startswith("usr_")
    assert (body["user"]["email"], body["user"]["role"]) == (email, "user")

    # AND the access token signs them in, verified, with the free plan
    me = api.me(body["access_token"])
    assert me.status_code == 200
    assert me.json()["id"] == body["user"]["id"]
    assert me.json()["email_verified"] is True
    assert me.json()["membership"] == {"plan": "free", "expires_at": None}


def test_an_email_registers_once_whatever_its_case_or_spaces(api: Api) -> None:
    email = new_email()
    api.register(email)

    again = api.auth.post(
        "/v1/auth/register", json={"email": f"  {email.upper()} ", "password": PASSWORD}
    )

    assert again.status_code == 202
    assert mail_to(api.mail, email)["Subject"] == "你已经有 Retouch 账号了"
    assert _user_count(email) == 1


@pytest.mark.parametrize(
    "extra", [{"role": "admin"}, {"balance": 99999}, {"status": "active", "id": 1}]
)
def test_register_refuses_fields_it_does_not_define_and_creates_nothing(
    api: Api, extra: dict[str, object]
) -> None:
    # GIVEN a register body that tries to set its own role or balance (mass assignment)
    email = new_email()

    # WHEN it is sent
    response = api.auth.post(
        "/v1/auth/register", json={"email": email, "password": PASSWORD, **extra}
    )

    # THEN it is refused as a whole and no account exists
    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_FAILED"
    assert {error["code"] for error in response.json()["errors"]} == {"extra_forbidden"}
    assert _user_count(email) == 0


@pytest.mark.parametrize("password", ["short-1A", "onlylowercaseletters", "x1" * 65])
def test_weak_or_long_passwords_are_422_naming_the_field(api: Api, password: str) -> None:
    response = api.auth.post("/v1/auth/register", json={"email": new_email(), "password": password})

    assert response.status_code == 422
    assert [error["field"] for error in response.json()["errors"]] == ["body.password"]


def test_a_huge_password_is_refused_before_any_hashing(api: Api) -> None:
    # GIVEN a 900 KB password (under the body limit): hashing it would cost far more than
    # checking its length
    password = "Aa1-" * 225_000

    started = time.perf_counter()
    response = api.auth.post("/v1/auth/register", json={"email": new_email(), "password": password})
    elapsed = time.perf_counter() - started

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.password"
    assert password[:20] not in response.text  # the input is never echoed
    assert elapsed < 2.0


def test_login_with_the_right_password_answers_a_new_pair(api: Api) -> None:
    registered = api.register()

    response = api.login(registered["user"]["email"])

    assert response.status_code == 200
    body = response.json()
    assert body["user"] == registered["user"]
    assert body["refresh_token"] != registered["refresh_token"]
    assert api.me(body["access_token"]).status_code == 200


def test_login_email_is_normalised_like_register(api: Api) -> None:
    registered = api.register()

    response = api.login(f" {registered['user']['email'].upper()}")

    assert response.status_code == 200


def test_wrong_password_and_unknown_account_answer_alike_and_as_slowly(api: Api) -> None:
    # GIVEN an account
    email = api.register()["user"]["email"]

    # WHEN one login has the wrong password and another an email nobody registered
    timings: dict[str, list[float]] = {"wrong": [], "unknown": []}
    answers = {}
    for _ in range(2):
        for kind, address in (("wrong", email), ("unknown", new_email("nobody"))):
            started = time.perf_counter()
            answers[kind] = api.login(address, "Wrong-Password-1")
            timings[kind].append(time.perf_counter() - started)

    # THEN both are the same 401, and the unknown account is not answered much faster
    # (a password check is tens of milliseconds; skipping it would be under one)
    wrong, unknown = answers["wrong"], answers["unknown"]
    assert wrong.status_code == unknown.status_code == 401
    assert _problem(wrong.json()) == _problem(unknown.json())
    assert wrong.json()["code"] == "UNAUTHENTICATED"
    assert wrong.headers["www-authenticate"] == unknown.headers["www-authenticate"] == "Bearer"
    assert min(timings["unknown"]) > 0.3 * min(timings["wrong"])


def test_a_disabled_account_cannot_log_in_and_gets_the_same_answer(api: Api) -> None:
    registered = api.register()
    set_access(registered["user"]["id"], status="disabled")

    disabled = api.login(registered["user"]["email"])
    unknown = api.login(new_email("nobody"))

    assert disabled.status_code == 401
    assert _problem(disabled.json()) == _problem(unknown.json())


def test_login_brute_force_is_429_with_retry_after_for_real_and_unknown_accounts(
    api: Api,
) -> None:
    # GIVEN an account and an address nobody registered, attacked from one client address
    real, unknown = api.register()["user"]["email"], new_email("nobody")

    refusals = {}
    for email in (real, unknown):
        # WHEN five wrong passwords were tried (the per account+IP limit)
        attempts = [api.login(email, "Wrong-Password-1").status_code for _ in range(5)]
        assert attempts == [401] * 5
        # THEN the sixth is refused before any check, even with the right password
        refusals[email] = api.login(email, PASSWORD)

    for refused in refusals.values():
        assert refused.status_code == 429
        assert refused.json()["code"] == "RATE_LIMITED"
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.headers["ratelimit-remaining"] == "0"
    # AND the refusal does not tell the two apart (but for the seconds left to wait, which
    # count down between the two refusals on a slow machine)
    first, second = refusals.values()
    assert _without_numbers(_problem(first.json())) == _without_numbers(_problem(second.json()))
    assert first.headers["ratelimit-limit"] == second.headers["ratelimit-limit"]


def test_login_attempts_from_one_address_are_limited_across_accounts(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a per-IP login limit of 3 a minute (many accounts, one attacker)
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_LOGIN_PER_IP_PER_MIN", "3")

    statuses = [api.login(new_email("spray"), "Wrong-Password-1").status_code for _ in range(4)]

    assert statuses == [401, 401, 401, 429]


class _UnreachableLimiter(RateLimiter):
    """A limiter whose store is down, as RedisRateLimiter reports it."""

    def _apply(
        self, key: str, interval: int, window: int, cost: int, read: HashRead | None
    ) -> tuple[int, int, int, int, tuple[str | None, ...]]:
        raise RateLimiterUnavailable("rate limiter unreachable")


def test_login_fails_closed_when_the_limiter_is_unreachable(api: Api) -> None:
    # GIVEN an account, and an auth app whose rate limiter cannot reach Redis
    email = api.register()["user"]["email"]
    app = create_app([router], rate_limiter=_UnreachableLimiter())

    # WHEN someone logs in with the right password
    with TestClient(app, client=(new_client_ip(), 50000)) as client:
        login = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        register = client.post(
            "/v1/auth/register", json={"email": new_email(), "password": PASSWORD}
        )
        refresh = client.post("/v1/auth/refresh", json={"refresh_token": "x" * 43})

    # THEN login is refused with 503 rather than let guesses through unlimited, and so is
    # sign-up (its limits guard against farming); routes with no limit of their own still
    # work (the per-IP limit fails open): an unknown refresh token is a 401
    assert login.status_code == 503
    assert login.json()["code"] == "SERVICE_UNAVAILABLE"
    assert register.status_code == 503
    assert refresh.status_code == 401


def test_concurrent_registrations_of_one_email_create_one_account(stack: Stack) -> None:
    # GIVEN one address sent by six sign-ups at once, on separate connections
    email, inbox = new_email("race"), RecordingMailer()

    def attempt(_: int) -> None:
        register(
            database=get_database(),
            settings=get_settings(),
            email=email,
            password=PASSWORD,
            mailer=inbox,
        )

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(attempt, range(6)))

    # THEN the unique key lets exactly one through: one verification link is mailed, and
    # the owner is told five times that someone tried
    assert _user_count(email) == 1
    kinds = sorted(mail.kind for mail in inbox.to(email))
    assert kinds == ["already_registered"] * 5 + ["email_verification"]
