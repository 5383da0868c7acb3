"""`GET /v1/admin/audit`: who may read it, its filters, keyset pages without duplicates or
gaps, strict query validation, and the rows the audited actions leave, against the real
users, auth and catalog functions, MariaDB and Redis."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.catalog_api_support import catalog_app
from tests.integration.identity_support import Api, audit_rows, new_client_ip

pytestmark = pytest.mark.integration

AUDIT = "/v1/admin/audit"


def _grant(api: Api, admin: dict[str, str], target: str, amount: int) -> None:
    response = api.users.post(
        f"/v1/admin/users/{target}/credits",
        json={"amount": amount, "reason": f"grant {amount}"},
        headers=admin,
    )
    assert response.status_code == 200, response.text


def _read(api: Api, headers: dict[str, str], **query: Any) -> Any:
    response = api.users.get(AUDIT, params=query, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_anonymous_callers_get_401(api: Api) -> None:
    response = api.users.get(AUDIT)

    assert response.status_code == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize("role", ["user", "operator"])
def test_users_and_operators_get_403(api: Api, role: str) -> None:
    _, headers = api.signed_in(role)

    response = api.users.get(AUDIT, headers=headers)

    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"


def test_an_admin_reads_rows_newest_first_with_both_request_ids(api: Api) -> None:
    # GIVEN an admin who changed a user's role, then granted them credits
    actor, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")
    changed = api.users.patch(
        f"/v1/admin/users/{target['id']}",
        json={"role": "operator"},
        headers={**admin, "X-Request-ID": "forged"},
    )
    _grant(api, admin, target["id"], 5)

    # WHEN the admin reads the log about that user
    page = _read(api, admin, target_type="user", target_id=target["id"])

    # THEN both rows, newest first, with the actor's public id and the states
    assert [item["action"] for item in page["items"]] == ["user.grant_credits", "user.update"]
    assert page["next_cursor"] is None
    update = page["items"][1]
    assert update["actor"] == actor["id"]
    assert (update["before"], update["after"]) == (
        {"role": "user", "status": "active"},
        {"role": "operator", "status": "active"},
    )
    assert update["request_id"] == changed.headers["x-request-id"]
    assert update["client_request_id"] == "forged"
    assert set(update) == {
        "actor",
        "action",
        "target_type",
        "target_id",
        "before",
        "after",
        "request_id",
        "client_request_id",
        "created_at",
    }


def test_filters_by_actor_action_and_time(api: Api) -> None:
    # GIVEN two admins' grants to one user
    first, first_admin = api.signed_in("admin")
    _, second_admin = api.signed_in("admin")
    target, _ = api.signed_in("user")
    started = datetime.now(timezone.utc) - timedelta(seconds=1)
    _grant(api, first_admin, target["id"], 1)
    _grant(api, second_admin, target["id"], 2)
    api.users.patch(
        f"/v1/admin/users/{target['id']}", json={"status": "disabled"}, headers=first_admin
    )

    by_first = _read(api, second_admin, actor=first["id"])
    grants = _read(api, second_admin, target_id=target["id"], action="user.grant_credits")
    since = _read(api, second_admin, target_id=target["id"], since=started.isoformat())
    until = _read(api, second_admin, target_id=target["id"], until=started.isoformat())
    nobody = _read(api, second_admin, actor="usr_" + "x" * 22)

    assert [item["action"] for item in by_first["items"]] == ["user.update", "user.grant_credits"]
    assert {item["actor"] for item in by_first["items"]} == {first["id"]}
    assert [item["after"]["amount"] for item in grants["items"]] == [2, 1]
    assert len(since["items"]) == 3
    assert until["items"] == []
    assert nobody["items"] == []


def test_pages_cover_every_row_once_newest_first(api: Api) -> None:
    # GIVEN 7 rows about one user
    _, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")
    for amount in range(1, 8):
        _grant(api, admin, target["id"], amount)

    # WHEN they are read 3 at a time
    amounts: list[int] = []
    cursor = None
    pages = 0
    while True:
        query: dict[str, Any] = {"target_id": target["id"], "limit": 3}
        if cursor is not None:
            query["cursor"] = cursor
        page = _read(api, admin, **query)
        amounts += [item["after"]["amount"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    # THEN three pages, every row once, newest first, as the table holds them
    assert pages == 3
    assert amounts == [7, 6, 5, 4, 3, 2, 1]
    assert len(audit_rows(target["id"])) == 7


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": "garbage"},
        {"cursor": "eyJhIjoxfQ.AAAAAAAAAAAAAAAAAAAAAA"},
        {"limit": 0},
        {"limit": 101},
        {"actor": "not-a-user-id"},
        {"action": "DROP TABLE"},
        {"since": "2026-01-01T00:00:00"},  # no time zone
        {"since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        {"target": "x"},  # unknown parameter
    ],
)
def test_bad_queries_are_422_problems(api: Api, query: dict[str, Any]) -> None:
    _, admin = api.signed_in("admin")

    response = api.users.get(AUDIT, params=query, headers=admin)

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "VALIDATION_FAILED"


def test_a_cursor_of_another_filter_is_refused(api: Api) -> None:
    # GIVEN a cursor issued for one user's rows
    _, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")
    for amount in (1, 2):
        _grant(api, admin, target["id"], amount)
    cursor = _read(api, admin, target_id=target["id"], limit=1)["next_cursor"]

    # WHEN it is sent with another filter
    response = api.users.get(
        AUDIT, params={"target_id": "someone-else", "cursor": cursor}, headers=admin
    )

    # THEN 422 on the cursor
    assert response.status_code == 422
    assert response.json()["errors"][0]["code"] == "cursor_invalid"


def test_provider_and_config_writes_are_readable_in_the_log(api: Api) -> None:
    # GIVEN an admin who saved a provider config and changed a feature's cost
    account, admin = api.signed_in("admin")
    key = f"p_{secrets.token_hex(4)}"
    body = {"kind": "simulator", "endpoint": "http://127.0.0.1:8900", "concurrency_limit": 2}
    with TestClient(catalog_app(), client=(new_client_ip(), 50000)) as catalog:
        assert catalog.put(f"/v1/admin/providers/{key}", json=body, headers=admin).is_success

    # WHEN the log is read for that provider
    page = _read(api, admin, target_type="provider", target_id=key)

    # THEN the write is there, with its actor and after state
    (item,) = page["items"]
    assert (item["action"], item["actor"], item["before"]) == ("provider.save", account["id"], None)
    assert item["after"]["concurrency_limit"] == 2


def test_sign_in_events_are_readable_in_the_log(api: Api) -> None:
    # GIVEN a user who failed to sign in once, then signed in and out
    _, admin = api.signed_in("admin")
    registered = api.register()
    email, user_id = registered["user"]["email"], registered["user"]["id"]
    assert api.login(email, "Wrong-Password-1").status_code == 401
    session = api.login(email).json()
    signed_out = api.auth.post(
        "/v1/auth/logout", headers={"Authorization": f"Bearer {session['access_token']}"}
    )
    assert signed_out.status_code == 204

    # WHEN an admin reads the log about the user
    page = _read(api, admin, target_type="user", target_id=user_id)

    # THEN the sign-out (by the user), the failure and the sign-up's verification (both
    # anonymous: a mailed token proved the address), newest first
    assert [(item["action"], item["actor"]) for item in page["items"]] == [
        ("auth.logout", user_id),
        ("auth.login_failed", None),
        ("auth.email_verified", None),
    ]
