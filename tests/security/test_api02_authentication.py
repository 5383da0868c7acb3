"""API2:2023 Broken Authentication: forged, expired, tampered and confused tokens are 401;
password guessing is cut off with 429 before the account is even looked up."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from retouch.core.settings import get_settings
from scripts.local.alert_sinks import MailSink
from tests.integration.identity_support import (
    PASSWORD,
    alg_none_token,
    bearer,
    forged,
    link_token,
    mail_to,
    new_email,
    tampered_token,
)
from tests.security.conftest import account, problem

pytestmark = [pytest.mark.integration, pytest.mark.security]


FORGERIES: dict[str, Callable[[str], str]] = {
    "alg-none": alg_none_token,
    "wrong-key": lambda subject: forged(subject, key=b"not-our-key-but-long-enough-1234"),
    "tampered-claims": tampered_token,
    "wrong-audience": lambda subject: forged(subject, aud="another-api"),
}


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_token_is_401(http: httpx.Client, forgery: str) -> None:
    user, _ = account()

    response = http.get("/v1/me", headers=bearer(FORGERIES[forgery](user)))

    problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"] == "Bearer"


def test_an_expired_token_is_401_token_expired(http: httpx.Client) -> None:
    user, _ = account()
    past = int(time.time()) - 3600

    response = http.get("/v1/me", headers=bearer(forged(user, iat=past, exp=past + 900)))

    problem(response, 401, "TOKEN_EXPIRED")


def test_a_refresh_token_is_no_access_token_and_an_access_token_no_refresh_token(
    http: httpx.Client, account_mail: MailSink
) -> None:
    # GIVEN a real sign-up's token pair: registered, then verified with the mailed token
    email = new_email("sec")
    accepted = http.post("/v1/auth/register", json={"email": email, "password": PASSWORD})
    assert accepted.status_code == 202, accepted.text
    token = link_token(mail_to(account_mail, email), get_settings().email_verification_url)
    pair = http.post("/v1/auth/verify", json={"token": token})
    assert pair.status_code == 200, pair.text
    tokens = pair.json()

    # THEN each kind is refused where the other belongs
    problem(http.get("/v1/me", headers=bearer(tokens["refresh_token"])), 401, "UNAUTHENTICATED")
    as_refresh = http.post("/v1/auth/refresh", json={"refresh_token": tokens["access_token"]})
    assert as_refresh.status_code in (401, 422), as_refresh.text
    assert "access_token" not in as_refresh.json()
    # AND the pair itself still works (the refusals were not luck)
    assert http.get("/v1/me", headers=bearer(tokens["access_token"])).status_code == 200


def test_password_guessing_is_429_with_retry_after(http: httpx.Client) -> None:
    # GIVEN an attacker guessing one account's password from one address
    body = {"email": new_email("victim"), "password": "Wrong-guess-1"}

    answers = [http.post("/v1/auth/login", json=body) for _ in range(6)]

    # THEN the first five are the plain 401, the sixth is cut off
    assert [answer.status_code for answer in answers[:5]] == [401] * 5
    problem(answers[5], 429, "RATE_LIMITED")
    assert int(answers[5].headers["retry-after"]) > 0
