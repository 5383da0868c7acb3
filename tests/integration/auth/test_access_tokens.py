"""Access tokens at the door of a protected route (`GET /v1/me`): forged, expired and
confused tokens are 401 with the right code; a disabled user is out at once."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from retouch.core.db import get_database
from retouch.core.time import utc_now
from retouch.quota.repository import MySQLMembershipRepository
from tests.conftest import LogLines
from tests.integration.identity_support import (
    Api,
    alg_none_token,
    b64_json,
    bearer,
    forged,
    internal_id,
    new_account,
    set_access,
    signing_key,
    tampered_token,
)

pytestmark = pytest.mark.integration


def _hmac_under_an_rs256_header(subject: str) -> str:
    # Algorithm confusion: labelled RS256, "signed" by HMAC with our own key.
    header, payload, _ = forged(subject).split(".")
    header = b64_json({"alg": "RS256", "kid": "test-1", "typ": "at+jwt"})
    mac = hmac.new(signing_key(), f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"


def _tampered_signature(subject: str) -> str:
    token = forged(subject)
    return token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")


ATTACKS: dict[str, Callable[[str], str]] = {
    "alg-none": alg_none_token,
    "hs512": lambda subject: forged(subject, algorithm="HS512", key=b"k" * 64),
    "hmac-under-an-rs256-header": _hmac_under_an_rs256_header,
    "tampered-payload": tampered_token,
    "tampered-signature": _tampered_signature,
    "wrong-key": lambda subject: forged(subject, key=b"not-our-key-but-long-enough-1234"),
    "wrong-audience": lambda subject: forged(subject, aud="another-api"),
    "wrong-issuer": lambda subject: forged(subject, iss="evil"),
    "wrong-type": lambda subject: forged(subject, header={"typ": "JWT"}),
    "unknown-kid": lambda subject: forged(subject, header={"kid": "retired-long-ago"}),
    "no-jti": lambda subject: forged(subject, jti=None),
}


@pytest.mark.parametrize("attack", ATTACKS, ids=list(ATTACKS))
def test_a_forged_or_confused_token_is_401_unauthenticated(api: Api, attack: str) -> None:
    # GIVEN a real account, and a token for it built by the attack
    user = api.register()["user"]
    token = ATTACKS[attack](user["id"])

    # WHEN it is presented
    response = api.users.get("/v1/me", headers=bearer(token))

    # THEN 401 UNAUTHENTICATED, with the Bearer challenge
    assert response.status_code == 401, response.text
    assert response.json()["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_well_signed_token_of_ours_is_accepted(api: Api) -> None:
    # The control of the attacks above: the same forging helper, nothing overridden.
    user = api.register()["user"]

    assert api.users.get("/v1/me", headers=bearer(forged(user["id"]))).status_code == 200


def test_an_expired_token_is_401_token_expired(api: Api) -> None:
    user = api.register()["user"]
    past = int(time.time()) - 3600

    response = api.users.get("/v1/me", headers=bearer(forged(user["id"], iat=past, exp=past + 900)))

    assert response.status_code == 401
    assert response.json()["code"] == "TOKEN_EXPIRED"


@pytest.mark.parametrize(
    "authorization", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token abc"]
)
def test_missing_or_foreign_credentials_are_401(api: Api, authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}

    response = api.users.get("/v1/me", headers=headers)

    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


def test_a_token_of_a_user_that_does_not_exist_is_401(api: Api) -> None:
    response = api.users.get("/v1/me", headers=bearer(forged("usr_nobodyhere0000")))

    assert response.status_code == 401


def test_a_disabled_users_tokens_stop_working_at_once(api: Api) -> None:
    # GIVEN a signed-in user whose token works
    pair = api.register()
    assert api.me(pair["access_token"]).status_code == 200

    # WHEN an admin disables the account (the token itself stays valid for minutes)
    set_access(pair["user"]["id"], status="disabled")

    # THEN the very next request is refused, and so is a refresh
    assert api.me(pair["access_token"]).status_code == 401
    assert api.refresh(pair["refresh_token"]).status_code == 401


def test_the_role_of_the_account_counts_not_the_role_in_the_token(api: Api) -> None:
    # GIVEN a user with a token whose claims say admin (signed with our key: an insider's
    # mistake, or a token issued before a demotion)
    user = api.register()["user"]
    token = forged(user["id"], role="admin")

    # THEN admin routes still refuse: the role is read from the account on every request
    assert api.users.get("/v1/admin/users", headers=bearer(token)).status_code == 403


def test_the_access_log_line_names_the_user_by_public_id(api: Api, log_lines: LogLines) -> None:
    pair = api.register()

    api.me(pair["access_token"])

    lines = [line for line in log_lines.with_message("request") if line["route"] == "/v1/me"]
    assert [line.get("user_id") for line in lines] == [pair["user"]["id"]]


def test_the_caller_holds_the_highest_priority_membership_in_force(api: Api) -> None:
    # GIVEN a user holding free (forever), pro (in force) and max (expired) memberships
    user, headers = new_account()
    now = utc_now()
    pro_ends = (now + timedelta(days=30)).replace(microsecond=0)
    with get_database().unit_of_work() as uow:
        memberships = MySQLMembershipRepository(uow)
        user_id = internal_id(user["id"])
        memberships.add(
            user_id=user_id, plan_code="pro", starts_at=now - timedelta(days=1), expires_at=pro_ends
        )
        memberships.add(
            user_id=user_id,
            plan_code="max",
            starts_at=now - timedelta(days=60),
            expires_at=now - timedelta(days=30),
        )
        uow.commit()

    # WHEN they read their profile (the caller read picks the membership)
    me = api.users.get("/v1/me", headers=headers).json()

    # THEN pro, the highest-priority plan in force, with its end
    assert me["membership"]["plan"] == "pro"
    assert me["membership"]["expires_at"].startswith(pro_ends.strftime("%Y-%m-%dT%H:%M:%S"))
