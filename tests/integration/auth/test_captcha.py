"""The sign-up CAPTCHA against the real auth function, MariaDB, Redis, the loopback SMTP sink
and loopback fakes of hCaptcha and Tencent Cloud Captcha (`captcha_fake`): a solved token
registers; a missing one is `CAPTCHA_REQUIRED`, a refused one `CAPTCHA_FAILED` with no row, no
mail and no hash; a provider down, failing or slow is `CAPTCHA_UNAVAILABLE` (fail closed);
the sign-up limits come first; off, a token is ignored; `GET /v1/auth/captcha` says what a
client shows; the local stack's `STACK_CAPTCHA` fake checks a signed call."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from retouch.auth.hashing import hashing_slot
from retouch.bootstrap.clients import reset_clients
from retouch.core.db import get_database
from retouch.core.settings import get_settings
from scripts.local.stack import start_captcha_fake
from tests.integration.captcha_fake import (
    APP_ID,
    SECRET,
    SECRET_ID,
    SECRET_KEY,
    SITE_KEY,
    FakeCaptcha,
    running_fake_captcha,
)
from tests.integration.identity_support import PASSWORD, Api, mail_to, new_email

pytestmark = pytest.mark.integration

SENT = {"Confirm your Retouch email address", "You already have a Retouch account"}
LOCAL_VARIABLES = (
    "RETOUCH_CAPTCHA_PROVIDER",
    "RETOUCH_CAPTCHA_SITE_KEY",
    "RETOUCH_CAPTCHA_SECRET",
    "RETOUCH_SECRET_CAPTCHA",
    "RETOUCH_CAPTCHA_ENDPOINT",
)


@pytest.fixture
def fake() -> Iterator[FakeCaptcha]:
    with running_fake_captcha() as running:
        yield running


def _enable(
    monkeypatch: pytest.MonkeyPatch, fake: FakeCaptcha, provider: str, **extra: str
) -> None:
    site_key, endpoint = (
        (SITE_KEY, fake.hcaptcha_url) if provider == "hcaptcha" else (str(APP_ID), fake.tencent_url)
    )
    for name, value in {
        "RETOUCH_CAPTCHA_PROVIDER": provider,
        "RETOUCH_CAPTCHA_SITE_KEY": site_key,
        "RETOUCH_CAPTCHA_SECRET": "env:RETOUCH_SECRET_CAPTCHA",
        "RETOUCH_SECRET_CAPTCHA": SECRET,
        "RETOUCH_CAPTCHA_ENDPOINT": endpoint,
        "RETOUCH_CAPTCHA_TIMEOUT_S": "0.5",
        **extra,
    }.items():
        monkeypatch.setenv(name, value)
    reset_clients()


@pytest.fixture
def hcaptcha(fake: FakeCaptcha, monkeypatch: pytest.MonkeyPatch) -> FakeCaptcha:
    _enable(monkeypatch, fake, "hcaptcha")
    return fake


@pytest.fixture
def tencent(fake: FakeCaptcha, monkeypatch: pytest.MonkeyPatch) -> FakeCaptcha:
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", SECRET_KEY)
    _enable(monkeypatch, fake, "tencent")
    return fake


def _register(api: Api, email: str, **headers: str) -> Any:
    return api.auth.post(
        "/v1/auth/register",
        json={"email": email, "password": PASSWORD},
        headers={"Accept-Language": "en", **headers},
    )


def _users(email: str) -> int:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one("SELECT COUNT(*) AS n FROM users WHERE email = %s", (email,))
    assert row is not None
    return int(row["n"])


def _mails(api: Api, email: str) -> int:
    return len([m for m in api.mail.messages if m["To"] == email])


def test_a_solved_hcaptcha_registers_and_sends_its_fields(api: Api, hcaptcha: FakeCaptcha) -> None:
    token, _ = hcaptcha.solved()
    email = new_email("captcha")

    response = _register(api, email, **{"X-Captcha-Token": token})

    assert response.status_code == 202, response.text
    assert _users(email) == 1
    assert mail_to(api.mail, email)["Subject"] in SENT
    (call,) = hcaptcha.calls
    assert call["secret"] == SECRET
    assert call["response"] == token
    assert call["sitekey"] == SITE_KEY
    assert call["remoteip"].startswith("198.18.")  # the client's address, from the test client


def test_a_registration_without_a_token_is_refused_before_any_call(
    api: Api, hcaptcha: FakeCaptcha
) -> None:
    email = new_email("captcha")

    response = _register(api, email)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "CAPTCHA_REQUIRED"
    assert "X-Captcha-Token" in response.json()["detail"]
    assert hcaptcha.calls == []
    assert _users(email) == 0


def test_a_refused_token_creates_nothing_mails_nothing_and_hashes_nothing(
    api: Api, hcaptcha: FakeCaptcha, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_PASSWORD_HASH_CONCURRENCY", "1")
    monkeypatch.setenv("RETOUCH_PASSWORD_HASH_WAIT_MS", "0")
    reset_clients()
    refused, solved = new_email("refused"), new_email("solved")
    token, _ = hcaptcha.solved()
    # GIVEN the instance's one hashing slot is taken: any request that asks for it is a 503
    with hashing_slot(get_settings()):
        # WHEN a token the provider refuses is sent (one never handed out)
        refused_answer = _register(api, refused, **{"X-Captcha-Token": "P1_forged"})
        # and a solved one, which goes on to ask for the hashing slot
        solved_answer = _register(api, solved, **{"X-Captcha-Token": token})

    # THEN the refused one never asked for a hashing slot (403, not 503 AUTH_BUSY)...
    assert refused_answer.status_code == 403
    assert refused_answer.json()["code"] == "CAPTCHA_FAILED"
    assert solved_answer.status_code == 503
    assert solved_answer.json()["code"] == "AUTH_BUSY"
    # ...and left no row and no mail
    assert _users(refused) == 0
    assert _mails(api, refused) == 0
    # the token is spent at the provider, as a real one is: a replay is refused too
    assert _register(api, solved, **{"X-Captcha-Token": token}).json()["code"] == "CAPTCHA_FAILED"


@pytest.mark.parametrize("mode", ["500", "hang"])
def test_a_provider_failing_or_slow_fails_closed(
    api: Api, hcaptcha: FakeCaptcha, mode: str
) -> None:
    hcaptcha.mode = mode
    token, _ = hcaptcha.solved()
    email = new_email("down")

    response = _register(api, email, **{"X-Captcha-Token": token})

    assert response.status_code == 503
    assert response.json()["code"] == "CAPTCHA_UNAVAILABLE"
    assert response.headers["retry-after"] == "5"
    assert _users(email) == 0
    assert _mails(api, email) == 0


def test_a_provider_that_cannot_be_reached_fails_closed(
    api: Api, fake: FakeCaptcha, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a port nothing listens on (the fake's own, once it is gone, would race; 9 is discard)
    _enable(monkeypatch, fake, "hcaptcha", RETOUCH_CAPTCHA_ENDPOINT="http://127.0.0.1:9/siteverify")
    email = new_email("unreachable")

    response = _register(api, email, **{"X-Captcha-Token": "P1_anything"})

    assert response.status_code == 503
    assert response.json()["code"] == "CAPTCHA_UNAVAILABLE"
    assert _users(email) == 0


def test_a_wrong_secret_is_ours_and_fails_closed_not_blamed_on_the_client(
    api: Api, fake: FakeCaptcha, monkeypatch: pytest.MonkeyPatch
) -> None:
    _enable(monkeypatch, fake, "hcaptcha", RETOUCH_SECRET_CAPTCHA="0x-not-the-secret")
    token, _ = fake.solved()

    response = _register(api, new_email("wrong-secret"), **{"X-Captcha-Token": token})

    assert response.status_code == 503
    assert response.json()["code"] == "CAPTCHA_UNAVAILABLE"


def test_a_token_solved_on_another_site_is_refused_when_hostnames_are_named(
    api: Api, fake: FakeCaptcha, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the fake answers hostname app.example.com
    _enable(monkeypatch, fake, "hcaptcha", RETOUCH_CAPTCHA_HOSTNAMES="shop.example.com")
    email = new_email("elsewhere")
    token, _ = fake.solved()

    response = _register(api, email, **{"X-Captcha-Token": token})

    assert response.status_code == 403
    assert response.json()["code"] == "CAPTCHA_FAILED"
    assert _users(email) == 0


def test_the_sign_up_limits_refuse_before_the_provider_is_asked(
    api: Api, hcaptcha: FakeCaptcha, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_REGISTER_PER_IP_PER_HOUR", "1")
    reset_clients()
    first, _ = hcaptcha.solved()
    second, _ = hcaptcha.solved()

    assert _register(api, new_email("limit"), **{"X-Captcha-Token": first}).status_code == 202
    over = _register(api, new_email("limit"), **{"X-Captcha-Token": second})

    assert over.status_code == 429
    assert len(hcaptcha.calls) == 1


def test_a_taken_and_a_new_address_answer_alike_with_the_captcha_on(
    api: Api, hcaptcha: FakeCaptcha
) -> None:
    email = new_email("taken")
    answers = []
    for _ in range(2):
        token, _ = hcaptcha.solved()
        answers.append(_register(api, email, **{"X-Captcha-Token": token}))

    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json()
    assert _users(email) == 1


def test_a_solved_tencent_ticket_registers_with_a_signed_call(
    api: Api, tencent: FakeCaptcha
) -> None:
    ticket, randstr = tencent.solved()
    email = new_email("tencent")

    response = _register(api, email, **{"X-Captcha-Token": ticket, "X-Captcha-Randstr": randstr})

    assert response.status_code == 202, response.text
    assert tencent.refused == []
    (call,) = tencent.calls
    assert (call["CaptchaType"], call["CaptchaAppId"], call["Ticket"]) == (9, APP_ID, ticket)
    assert call["Randstr"] == randstr
    assert call["UserIp"].startswith("198.18.")
    assert _users(email) == 1


def test_a_tencent_ticket_needs_its_randstr(api: Api, tencent: FakeCaptcha) -> None:
    ticket, _ = tencent.solved()

    missing = _register(api, new_email("tencent"), **{"X-Captcha-Token": ticket})
    wrong = _register(
        api, new_email("tencent"), **{"X-Captcha-Token": ticket, "X-Captcha-Randstr": "other"}
    )

    assert missing.json()["code"] == "CAPTCHA_REQUIRED"
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "CAPTCHA_FAILED"


def test_tencent_without_cloud_keys_fails_closed(
    api: Api, fake: FakeCaptcha, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY"):
        monkeypatch.delenv(name, raising=False)
    _enable(monkeypatch, fake, "tencent")
    ticket, randstr = fake.solved()

    response = _register(
        api, new_email("tencent"), **{"X-Captcha-Token": ticket, "X-Captcha-Randstr": randstr}
    )

    assert response.json()["code"] == "CAPTCHA_UNAVAILABLE"
    assert fake.calls == []


def test_off_a_token_is_ignored(api: Api, fake: FakeCaptcha) -> None:
    email = new_email("off")

    response = _register(api, email, **{"X-Captcha-Token": "P1_" + secrets.token_hex(8)})

    assert response.status_code == 202
    assert fake.calls == []
    assert _users(email) == 1


def test_password_forgot_asks_for_a_token_only_when_listed(
    api: Api, fake: FakeCaptcha, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"email": new_email("forgot")}
    _enable(monkeypatch, fake, "hcaptcha")
    assert api.auth.post("/v1/auth/password/forgot", json=body).status_code == 202

    _enable(monkeypatch, fake, "hcaptcha", RETOUCH_CAPTCHA_ROUTES="register,password_forgot")
    missing = api.auth.post("/v1/auth/password/forgot", json=body)
    token, _ = fake.solved()
    solved = api.auth.post(
        "/v1/auth/password/forgot", json=body, headers={"X-Captcha-Token": token}
    )

    assert missing.json()["code"] == "CAPTCHA_REQUIRED"
    assert solved.status_code == 202
    assert len(fake.calls) == 1


def test_the_client_reads_what_to_show_and_never_the_secret(
    api: Api, fake: FakeCaptcha, monkeypatch: pytest.MonkeyPatch
) -> None:
    off = api.auth.get("/v1/auth/captcha")
    _enable(monkeypatch, fake, "hcaptcha", RETOUCH_CAPTCHA_ROUTES="register,verify_resend")
    on = api.auth.get("/v1/auth/captcha")

    assert off.json() == {"kind": "off", "site_key": None, "required_for": []}
    assert on.json() == {
        "kind": "hcaptcha",
        "site_key": SITE_KEY,
        "required_for": ["register", "verify_resend"],
    }
    assert on.headers["cache-control"] == "public, max-age=300"
    assert SECRET not in on.text


def test_the_local_stack_asks_for_a_captcha_its_fake_checks(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what start_captcha_fake sets is put back after the test
    for name in (*LOCAL_VARIABLES, "TENCENTCLOUD_SECRETID", "TENCENTCLOUD_SECRETKEY"):
        monkeypatch.setenv(name, "")
    with contextlib.ExitStack() as background:
        # GIVEN scripts/run with STACK_CAPTCHA=tencent
        start_captcha_fake(background, "tencent")
        fake_url = os.environ["RETOUCH_CAPTCHA_ENDPOINT"]
        # WHEN a client solves the widget (the fake's /solve) and registers with it
        solved = httpx.post(f"{fake_url}/solve", timeout=5).json()
        proof = {"X-Captcha-Token": solved["token"], "X-Captcha-Randstr": solved["randstr"]}
        accepted = _register(api, new_email("local"), **proof)
        replayed = _register(api, new_email("local"), **proof)

    # THEN the signed call passed the fake's checks once, and the replay is refused
    assert accepted.status_code == 202, accepted.text
    assert replayed.json()["code"] == "CAPTCHA_FAILED"
