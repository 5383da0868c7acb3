"""Refresh rotation, reuse detection with its grace window, and logout, against the real
auth and users functions, MariaDB and Redis."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from retouch.auth.errors import InvalidRefreshToken
from retouch.auth.refresh import refresh
from retouch.core.db import get_database
from retouch.core.settings import get_settings
from tests.conftest import LogLines
from tests.integration.identity_support import Api, audit_rows, bearer, new_client_ip

pytestmark = pytest.mark.integration


def test_refresh_answers_a_new_pair_and_spends_the_old_token(api: Api) -> None:
    # GIVEN a session
    first = api.register()

    # WHEN its refresh token is spent
    response = api.refresh(first["refresh_token"])

    # THEN a new pair comes back and works, and the old token does not work again
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["user"] == first["user"]
    assert api.me(second["access_token"]).status_code == 200
    # (within the grace the same client gets the same child again, never a second one)
    assert api.refresh(first["refresh_token"]).json()["refresh_token"] == second["refresh_token"]
    assert api.refresh(second["refresh_token"]).status_code == 200
    assert api.refresh(first["refresh_token"]).status_code == 401


def test_reuse_of_a_spent_token_revokes_the_whole_family_and_is_logged(
    api: Api, monkeypatch: pytest.MonkeyPatch, log_lines: LogLines
) -> None:
    # GIVEN no grace window, and a session rotated twice: R1 -> R2 -> R3
    monkeypatch.setenv("RETOUCH_REFRESH_REUSE_GRACE_S", "0")
    first = api.register()
    second = api.refresh(first["refresh_token"]).json()
    third = api.refresh(second["refresh_token"]).json()

    # WHEN the spent R1 is presented again (a thief, or the victim after the thief)
    reused = api.refresh(first["refresh_token"])

    # THEN it is refused, and so is everything else of the family, the newest included
    assert reused.status_code == 401
    assert reused.json()["code"] == "UNAUTHENTICATED"
    assert api.refresh(third["refresh_token"]).status_code == 401
    assert api.me(third["access_token"]).status_code == 401
    assert api.me(first["access_token"]).status_code == 401
    # AND a security event names the family (never the token)
    events = [line for line in log_lines.all() if line.get("security_event")]
    assert [event["security_event"] for event in events] == ["refresh_token_reuse"]
    assert events[0]["level"] == "WARNING"
    assert first["refresh_token"] not in str(log_lines.all())


def test_the_same_client_retrying_within_the_grace_gets_the_same_child(
    api: Api, log_lines: LogLines
) -> None:
    # GIVEN a token just rotated, whose answer the client did not get (a dropped connection)
    first = api.register()
    second = api.refresh(first["refresh_token"]).json()

    # WHEN the same client presents the same token again within the window (10 s by default)
    retried = api.refresh(first["refresh_token"])

    # THEN it gets the very child it was issued (idempotent), and the session lives on
    assert retried.status_code == 200
    assert retried.json()["refresh_token"] == second["refresh_token"]
    assert api.me(retried.json()["access_token"]).status_code == 200
    assert api.me(second["access_token"]).status_code == 200
    assert api.refresh(second["refresh_token"]).status_code == 200
    assert not [line for line in log_lines.all() if line.get("security_event")]
    assert audit_rows(first["user"]["id"]) == []


def test_an_attacker_who_rotates_first_loses_the_session_when_the_victim_refreshes(
    api: Api, identity_apps: tuple[Any, Any]
) -> None:
    # GIVEN a victim's session whose refresh token an attacker stole and rotated first, from
    # another client
    victim = api.register()
    with TestClient(identity_apps[0], client=(new_client_ip(), 40000)) as attacker:
        stolen = attacker.post(
            "/v1/auth/refresh",
            json={"refresh_token": victim["refresh_token"]},
            headers={"User-Agent": "attacker/1.0"},
        ).json()

    # WHEN the victim's own refresh of that token lands within the grace window
    late = api.refresh(victim["refresh_token"])

    # THEN the family is revoked: the victim must sign in again, and the attacker's child
    # and access token are refused too
    assert late.status_code == 401
    assert api.refresh(stolen["refresh_token"]).status_code == 401
    assert api.me(stolen["access_token"]).status_code == 401
    # AND the reuse is audited, against the account, with no actor and no token in it
    (row,) = audit_rows(victim["user"]["id"])
    assert (row["action"], row["actor"], row["target_type"]) == (
        "auth.refresh_reuse",
        None,
        "user",
    )
    assert row["after_state"]["revoked_tokens"] == 2
    assert victim["refresh_token"] not in str(row)


def test_a_retry_from_another_user_agent_within_the_grace_revokes(api: Api) -> None:
    # GIVEN a token rotated by one client
    first = api.register()
    second = api.refresh(first["refresh_token"]).json()

    # WHEN the same address presents it with another User-Agent (another client there)
    other = api.auth.post(
        "/v1/auth/refresh",
        json={"refresh_token": first["refresh_token"]},
        headers={"User-Agent": "other-client/2.0"},
    )

    # THEN the family is revoked
    assert other.status_code == 401
    assert api.refresh(second["refresh_token"]).status_code == 401


def test_a_token_older_than_the_previous_one_revokes_even_within_the_grace(api: Api) -> None:
    # GIVEN R1 -> R2 -> R3 within seconds
    first = api.register()
    second = api.refresh(first["refresh_token"]).json()
    third = api.refresh(second["refresh_token"]).json()

    # WHEN R1, whose child R2 is spent too, comes back
    assert api.refresh(first["refresh_token"]).status_code == 401

    # THEN the family is revoked: the grace covers only the immediately previous token
    assert api.refresh(third["refresh_token"]).status_code == 401


def test_a_refresh_token_is_not_an_access_token(api: Api) -> None:
    pair = api.register()

    response = api.users.get("/v1/me", headers=bearer(pair["refresh_token"]))

    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


def test_an_access_token_is_not_a_refresh_token(api: Api) -> None:
    pair = api.register()

    response = api.refresh(pair["access_token"])

    # A JWT is longer than any refresh token: the schema refuses it, and it could not match
    assert response.status_code in (401, 422)
    assert api.refresh(pair["access_token"][:100]).status_code == 401


@pytest.mark.parametrize("token", ["", "x" * 15, "x" * 129])
def test_malformed_refresh_tokens_are_422(api: Api, token: str) -> None:
    assert api.refresh(token).status_code == 422


def test_logout_revokes_the_session_and_denies_its_access_token(api: Api) -> None:
    # GIVEN a session whose access token works
    pair = api.register()
    assert api.me(pair["access_token"]).status_code == 200

    # WHEN the user signs out
    response = api.auth.post("/v1/auth/logout", headers=bearer(pair["access_token"]))

    # THEN 204; the access token and the refresh token stop working
    assert response.status_code == 204
    assert response.content == b""
    assert api.me(pair["access_token"]).status_code == 401
    assert api.me(pair["access_token"]).json()["detail"] == "访问令牌已注销"
    assert api.refresh(pair["refresh_token"]).status_code == 401
    # AND the session is revoked in the database, which holds it however long the token lives
    assert _revoked_tokens(pair["user"]["id"]) == 1
    # AND the sign-out is audited: the user, their session
    (row,) = audit_rows(pair["user"]["id"])
    assert (row["action"], row["actor"]) == ("auth.logout", pair["user"]["id"])
    assert row["after_state"] == {"session": _session_of(pair["access_token"])}


def _session_of(access_token: str) -> str:
    return str(jwt.decode(access_token, options={"verify_signature": False})["sid"])


def _revoked_tokens(public_id: str) -> int:
    return _tokens_of(public_id, revoked_only=True)


def _tokens_of(public_id: str, *, revoked_only: bool = False) -> int:
    """How many refresh tokens the user has (of every session), or how many are revoked."""
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM refresh_tokens t JOIN users u ON u.id = t.user_id "
            "WHERE u.public_id = %s AND (t.revoked_at IS NOT NULL OR NOT %s)",
            (public_id, revoked_only),
        )
    assert row is not None
    return int(row["n"])


def test_logout_ends_only_its_own_session(api: Api) -> None:
    # GIVEN the same user signed in twice (phone and laptop)
    registered = api.register()
    laptop = api.login(registered["user"]["email"]).json()

    # WHEN the phone signs out
    assert (
        api.auth.post("/v1/auth/logout", headers=bearer(registered["access_token"])).status_code
        == 204
    )

    # THEN the laptop stays signed in
    assert api.me(laptop["access_token"]).status_code == 200
    assert api.refresh(laptop["refresh_token"]).status_code == 200


def test_logout_needs_an_access_token(api: Api) -> None:
    response = api.auth.post("/v1/auth/logout")

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


def test_concurrent_refreshes_of_one_token_issue_exactly_one_child(api: Api) -> None:
    # GIVEN one refresh token, sent by eight clients at once on separate connections
    pair = api.register()

    def attempt(_: int) -> str | None:
        try:
            return refresh(
                database=get_database(),
                settings=get_settings(),
                refresh_token=pair["refresh_token"],
                client="one-client",
                client_ip="198.51.100.7",
            ).refresh_token
        except InvalidRefreshToken:
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(8)))

    # THEN one child is issued, and every request of this one client gets it (the ones that
    # waited on the row's lock retried within the grace window), so the session lives
    assert len(set(results)) == 1
    (child,) = set(results)
    assert child is not None
    assert _tokens_of(pair["user"]["id"]) == 2
    assert api.refresh(child).status_code == 200
