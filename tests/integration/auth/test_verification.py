"""Email verification and a registration that reveals nothing, against the real auth, users
and tasks functions, MariaDB, Redis and the loopback SMTP sink: register answers a new and a
taken address alike (and mails each the right thing); the mailed token verifies once, grants
the free plan's credits once under concurrent clicks, and signs the owner in; an unverified
account gets no credits (not even at a new month) and cannot create tasks; resend answers
the same for every address."""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retouch.auth.schemas import EmailVerification
from retouch.auth.service import register
from retouch.auth.verification import VerificationTokenInvalid, verify_email
from retouch.core.db import get_database
from retouch.core.settings import get_settings
from retouch.core.time import to_db, utc_now
from retouch.quota.service import get_quota
from tests.fakes.mailer import RecordingMailer
from tests.integration.identity_support import (
    PASSWORD,
    Api,
    audit_rows,
    bearer,
    internal_id,
    link_token,
    mail_to,
    new_email,
)
from tests.integration.task_support import new_upload

pytestmark = pytest.mark.integration

VERIFY_SUBJECTS = {"Confirm your Retouch email address", "确认你的 Retouch 邮箱"}
TAKEN_SUBJECTS = {"You already have a Retouch account", "你已经有 Retouch 账号了"}
# Set per request by the middleware: never the same twice, whatever the address.
PER_REQUEST = {"x-request-id", "date", "content-length"}


def _post_register(api: Api, email: str, password: str = PASSWORD) -> Any:
    return api.auth.post(
        "/v1/auth/register",
        json={"email": email, "password": password},
        headers={"Accept-Language": "en"},
    )


def _token(api: Api, email: str) -> str:
    return link_token(mail_to(api.mail, email), get_settings().email_verification_url)


def _verify(api: Api, token: str) -> Any:
    return api.auth.post("/v1/auth/verify", json={"token": token})


def _ledger(user_id: int) -> list[tuple[str, int]]:
    with get_database().unit_of_work() as uow:
        rows = uow.fetch_all(
            "SELECT kind, amount FROM quota_ledger WHERE user_id = %s ORDER BY id", (user_id,)
        )
    return [(row["kind"], int(row["amount"])) for row in rows]


def _unverified_signup(email: str, *, clock: Any = utc_now) -> tuple[int, str]:
    """Register through the service; the user's internal id and the mailed token."""
    settings, inbox = get_settings(), RecordingMailer()
    register(
        database=get_database(),
        settings=settings,
        email=email,
        password=PASSWORD,
        mailer=inbox,
        clock=clock,
    )
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one("SELECT id FROM users WHERE email = %s", (email,))
    assert row is not None
    return int(row["id"]), inbox.token(email, after=settings.email_verification_url)


def _free_credits() -> int:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one("SELECT monthly_credits FROM plans WHERE code = 'free'")
    assert row is not None and int(row["monthly_credits"]) > 0
    return int(row["monthly_credits"])


@pytest.fixture(scope="module")
def tasks_app(identity_apps: tuple[Any, Any]) -> Any:
    from tests.conftest import load_function

    return load_function("functions/http/tasks/app.py").app


@pytest.fixture
def tasks(tasks_app: Any) -> Iterator[TestClient]:
    with TestClient(tasks_app, raise_server_exceptions=False) as client:
        yield client


def test_register_answers_a_new_and_a_taken_address_alike_and_mails_each_its_own(
    api: Api,
) -> None:
    # GIVEN an address with an account, and one without
    taken = new_email("taken")
    api.register(taken)
    fresh = new_email("fresh")

    # WHEN both are registered
    first, second = _post_register(api, fresh), _post_register(api, taken, "Other-Horse-77")

    # THEN nothing in the answers tells them apart: status, body, headers
    assert first.status_code == second.status_code == 202
    assert first.json() == second.json() == {"status": "verification_sent"}
    assert "access_token" not in first.text and "usr_" not in first.text
    assert {k: v for k, v in first.headers.items() if k not in PER_REQUEST} == {
        k: v for k, v in second.headers.items() if k not in PER_REQUEST
    }
    # AND the new address got its verification link, the taken one the notice to its owner
    assert mail_to(api.mail, fresh)["Subject"] == "Confirm your Retouch email address"
    assert mail_to(api.mail, taken)["Subject"] == "You already have a Retouch account"
    # AND the taken account is untouched: its password is still the first one
    assert api.login(taken).status_code == 200
    assert api.login(taken, "Other-Horse-77").status_code == 401


def test_a_new_account_is_unverified_without_credits_until_its_link_is_opened(api: Api) -> None:
    # GIVEN a registered, not yet verified account: it can sign in
    email = new_email("unverified")
    assert _post_register(api, email).status_code == 202
    login = api.login(email)
    assert login.status_code == 200
    early = login.json()
    # THEN it shows as unverified with no credits
    me = api.me(early["access_token"]).json()
    assert me["email_verified"] is False
    quota = api.users.get("/v1/me/quota", headers=bearer(early["access_token"])).json()
    assert quota["balance"] == 0

    # WHEN the mailed link is opened
    verified = _verify(api, _token(api, email))

    # THEN the owner is signed in, verified, with the free plan's credits granted once
    assert verified.status_code == 200
    assert verified.headers["cache-control"] == "no-store"
    pair = verified.json()
    assert api.me(pair["access_token"]).json()["email_verified"] is True
    quota = api.users.get("/v1/me/quota", headers=bearer(pair["access_token"])).json()
    assert quota["balance"] == _free_credits()
    assert _ledger(internal_id(pair["user"]["id"])) == [("period_grant", _free_credits())]
    (row,) = audit_rows(pair["user"]["id"], sign_up=True)
    assert (row["action"], row["actor"]) == ("auth.email_verified", None)
    assert row["after_state"] == {"granted_credits": _free_credits()}
    # AND the session started before verification has ended (whoever held it)
    assert api.refresh(early["refresh_token"]).status_code == 401
    assert api.me(early["access_token"]).status_code == 401


def test_a_guessed_an_expired_and_a_used_token_are_refused_alike(api: Api) -> None:
    email = new_email("tokens")
    _post_register(api, email)
    token = _token(api, email)

    guessed = _verify(api, "G" * 43)
    with get_database().unit_of_work() as uow:
        uow.execute(
            "UPDATE email_verifications v JOIN users u ON u.id = v.user_id "
            "SET v.expires_at = v.created_at WHERE u.email = %s",
            (email,),
        )
        uow.commit()
    expired = _verify(api, token)

    for refused in (guessed, expired):
        assert refused.status_code == 400
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "VERIFICATION_TOKEN_INVALID"
    assert guessed.json()["detail"] == expired.json()["detail"]

    # a new link works once; the next click on it is refused too
    assert api.auth.post("/v1/auth/verify/resend", json={"email": email}).status_code == 202
    fresh = _token(api, email)
    assert _verify(api, fresh).status_code == 200
    used = _verify(api, fresh)
    assert (used.status_code, used.json()["code"]) == (400, "VERIFICATION_TOKEN_INVALID")


def test_concurrent_clicks_on_one_link_grant_the_credits_once(stack: Any) -> None:
    # GIVEN an unverified account and its mailed token
    user_id, token = _unverified_signup(new_email("double"))

    def click(_: int) -> str:
        try:
            verify_email(
                database=get_database(),
                settings=get_settings(),
                proof=EmailVerification(token=token),
                client=None,
            )
        except VerificationTokenInvalid:
            return "refused"
        return "signed in"

    # WHEN eight clicks arrive at once
    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = sorted(pool.map(click, range(8)))

    # THEN one signs in, the rest are refused, and the ledger holds exactly one grant
    assert outcomes == ["refused"] * 7 + ["signed in"]
    assert _ledger(user_id) == [("period_grant", _free_credits())]
    assert get_quota(database=get_database(), user_id=user_id).balance == _free_credits()


def test_an_unverified_account_gets_no_credits_when_a_new_month_starts(stack: Any) -> None:
    # GIVEN an account registered 40 days ago and never verified
    long_ago = utc_now() - timedelta(days=40)
    user_id, token = _unverified_signup(new_email("farm"), clock=lambda: long_ago)

    # WHEN its quota is read now (the period rolls over)
    quota = get_quota(database=get_database(), user_id=user_id)

    # THEN the new period brought no credits and no ledger row
    assert quota.balance == 0 and quota.period_end > utc_now()
    assert _ledger(user_id) == []
    # AND verifying now (with a link still valid) grants this month's credits, once
    with get_database().unit_of_work() as uow:
        uow.execute(
            "UPDATE email_verifications SET expires_at = %s WHERE user_id = %s",
            (to_db(utc_now() + timedelta(hours=1)), user_id),
        )
        uow.commit()
    verify_email(
        database=get_database(),
        settings=get_settings(),
        proof=EmailVerification(token=token),
        client=None,
    )
    assert _ledger(user_id) == [("period_grant", _free_credits())]


def test_an_unverified_account_cannot_create_a_task(api: Api, tasks: TestClient) -> None:
    # GIVEN an unverified account, signed in
    email = new_email("notask")
    _post_register(api, email)
    pair = api.login(email).json()
    body = {"feature": "cutout", "inputs": {"image": new_upload(pair["user"]["id"])}}

    # WHEN it creates a task
    refused = tasks.post("/v1/tasks", json=body, headers=bearer(pair["access_token"]))

    # THEN it is refused with 403 EMAIL_NOT_VERIFIED and nothing was reserved
    assert refused.status_code == 403
    assert refused.json()["code"] == "EMAIL_NOT_VERIFIED"
    assert _ledger(internal_id(pair["user"]["id"])) == []

    # AND once verified, the same request is accepted
    verified = _verify(api, _token(api, email)).json()
    accepted = tasks.post("/v1/tasks", json=body, headers=bearer(verified["access_token"]))
    assert accepted.status_code == 202, accepted.text


def test_the_unverified_allowance_is_spendable_and_verification_tops_it_up(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an allowance of 3 credits for unverified accounts
    monkeypatch.setenv("RETOUCH_UNVERIFIED_ALLOWANCE", "3")
    user_id, token = _unverified_signup(new_email("allowance"))
    assert _ledger(user_id) == [("grant", 3)]

    # WHEN the address is verified
    verify_email(
        database=get_database(),
        settings=get_settings(),
        proof=EmailVerification(token=token),
        client=None,
    )

    # THEN the balance is topped up to the free plan's credits (not added on top)
    assert _ledger(user_id) == [("grant", 3), ("period_grant", _free_credits() - 3)]
    assert get_quota(database=get_database(), user_id=user_id).balance == _free_credits()


def test_resend_answers_the_same_for_any_address_and_mails_only_the_unverified(
    api: Api,
) -> None:
    unknown, verified, pending = new_email("nobody"), new_email("done"), new_email("pending")
    api.register(verified)
    _post_register(api, pending)
    before = len(api.mail.messages)

    answers = [
        api.auth.post("/v1/auth/verify/resend", json={"email": address})
        for address in (unknown, verified, pending)
    ]

    assert [answer.status_code for answer in answers] == [202, 202, 202]
    assert {answer.content for answer in answers} == {b""}
    sent = api.mail.messages[before:]
    assert [message["To"] for message in sent] == [pending]
    assert sent[0]["Subject"] in VERIFY_SUBJECTS
    assert _verify(api, _token(api, pending)).status_code == 200


def test_a_password_reset_verifies_the_address_too(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an unverified account whose owner lost the verification mail
    link = "https://app.example.com/reset?token="
    monkeypatch.setenv("RETOUCH_PASSWORD_RESET_URL", link)
    email = new_email("resetverify")
    _post_register(api, email)

    # WHEN they reset the password through the mailed link
    assert api.auth.post("/v1/auth/password/forgot", json={"email": email}).status_code == 202
    token = link_token(mail_to(api.mail, email), link)
    reset = {"token": token, "password": "Fresh-Horse-42"}
    assert api.auth.post("/v1/auth/password/reset", json=reset).status_code == 204

    # THEN the address counts as verified, with its credits
    pair = api.login(email, "Fresh-Horse-42").json()
    assert api.me(pair["access_token"]).json()["email_verified"] is True
    assert _ledger(internal_id(pair["user"]["id"])) == [("period_grant", _free_credits())]


def _code(api: Api, email: str) -> str:
    body = mail_to(api.mail, email).get_body(("plain",))
    assert body is not None
    found = re.search(r"\b([A-Z0-9]{4}-[A-Z0-9]{4})\b", str(body.get_content()))
    assert found is not None
    return found.group(1)


def test_the_mailed_code_verifies_its_address_only_and_guesses_are_limited(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN two unverified accounts, and 3 codes a hour per address
    monkeypatch.setenv("RETOUCH_RATE_LIMIT_VERIFICATION_CODE_PER_EMAIL_PER_HOUR", "3")
    first, second = new_email("codea"), new_email("codeb")
    _post_register(api, first)
    _post_register(api, second)
    code_a, code_b = _code(api, first), _code(api, second)

    def verify(email: str, code: str) -> Any:
        return api.auth.post("/v1/auth/verify", json={"email": email, "code": code})

    # WHEN the first address is verified with its code, typed loosely (lower case, no dash)
    signed_in = verify(first, code_a.replace("-", "").lower())
    assert signed_in.status_code == 200, signed_in.text
    assert api.me(signed_in.json()["access_token"]).json()["email_verified"] is True
    # THEN the code works once
    used = verify(first, code_a)
    assert (used.status_code, used.json()["code"]) == (400, "VERIFICATION_TOKEN_INVALID")

    # AND another address's code does not verify the second; its guesses run out
    assert verify(second, code_a).json()["code"] == "VERIFICATION_TOKEN_INVALID"
    assert verify(second, "ZZZZ-ZZZZ").json()["code"] == "VERIFICATION_TOKEN_INVALID"
    assert verify(second, "2222-2222").json()["code"] == "VERIFICATION_TOKEN_INVALID"
    limited = verify(second, code_b)  # the right one, too late
    assert (limited.status_code, limited.json()["code"]) == (429, "RATE_LIMITED")
    assert int(limited.headers["retry-after"]) > 0
    # (the link still works: the limit counts codes, not the owner's mailbox)
    assert _verify(api, _token(api, second)).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"token": "T" * 43, "email": "a@example.com", "code": "ABCD-EFGH"},
        {"email": "a@example.com"},
        {"code": "ABCD-EFGH"},
        {},
        {"email": "a@example.com", "code": "ABC"},
    ],
)
def test_a_verification_needs_the_token_or_the_address_and_code(api: Api, body: Any) -> None:
    response = api.auth.post("/v1/auth/verify", json=body)

    assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_FAILED")
