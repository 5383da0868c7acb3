"""Admin user routes: who may call what, filters and keyset pages, changes with their audit
rows, against the real users function, MariaDB and Redis (credit grants: test_admin_credits)."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from retouch.core.pagination import decode_cursor
from tests.integration.identity_support import Api, audit_rows, internal_id

pytestmark = pytest.mark.integration

ADMIN_ROUTES = [
    ("GET", "/v1/admin/users", None),
    ("GET", "/v1/admin/users/{id}", None),
    ("PATCH", "/v1/admin/users/{id}", {"status": "disabled"}),
    ("POST", "/v1/admin/users/{id}/credits", {"amount": 5, "reason": "test"}),
]
ADMIN_ONLY = [route for route in ADMIN_ROUTES if route[0] != "GET"]
READS = [route for route in ADMIN_ROUTES if route[0] == "GET"]


def _call(api: Api, route: tuple[str, str, Any], target: str, headers: dict[str, str]) -> Any:
    method, path, body = route
    return api.users.request(method, path.format(id=target), json=body, headers=headers)


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=lambda route: f"{route[0]} {route[1]}")
def test_a_user_gets_403_on_every_admin_route(api: Api, route: tuple[str, str, Any]) -> None:
    _, headers = api.signed_in("user")
    target, _ = api.signed_in("user")

    response = _call(api, route, target["id"], headers)

    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
    assert audit_rows(target["id"]) == []


@pytest.mark.parametrize("route", ADMIN_ONLY, ids=lambda route: f"{route[0]} {route[1]}")
def test_an_operator_gets_403_on_admin_only_routes(api: Api, route: tuple[str, str, Any]) -> None:
    _, headers = api.signed_in("operator")
    target, _ = api.signed_in("user")

    response = _call(api, route, target["id"], headers)

    assert response.status_code == 403
    assert audit_rows(target["id"]) == []


@pytest.mark.parametrize("route", READS, ids=lambda route: f"{route[0]} {route[1]}")
def test_an_operator_may_read_users(api: Api, route: tuple[str, str, Any]) -> None:
    _, headers = api.signed_in("operator")
    target, _ = api.signed_in("user")

    assert _call(api, route, target["id"], headers).status_code == 200


@pytest.mark.parametrize("route", ADMIN_ROUTES, ids=lambda route: f"{route[0]} {route[1]}")
def test_admin_routes_need_a_token(api: Api, route: tuple[str, str, Any]) -> None:
    target, _ = api.signed_in("user")

    assert _call(api, route, target["id"], {}).status_code == 401


def test_the_list_filters_by_role_status_and_email_prefix_newest_first(api: Api) -> None:
    # GIVEN three users under one fresh email prefix, one of them an operator, one disabled
    _, admin = api.signed_in("admin")
    prefix = f"list-{secrets.token_hex(4)}"
    emails = [f"{prefix}-{n}@example.com" for n in range(3)]
    ids = [api.register(email)["user"]["id"] for email in emails]
    operator_id, disabled_id = ids[1], ids[2]
    assert (
        api.users.patch(
            f"/v1/admin/users/{operator_id}", json={"role": "operator"}, headers=admin
        ).status_code
        == 200
    )
    assert (
        api.users.patch(
            f"/v1/admin/users/{disabled_id}", json={"status": "disabled"}, headers=admin
        ).status_code
        == 200
    )

    def listed(**query: str) -> list[str]:
        response = api.users.get(
            "/v1/admin/users", params={"email_prefix": prefix, **query}, headers=admin
        )
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    # THEN each filter narrows the list, and the order is newest first
    assert listed() == ids[::-1]
    assert listed(role="operator") == [operator_id]
    assert listed(status="disabled") == [disabled_id]
    assert listed(role="user", status="active") == [ids[0]]
    assert listed(email_prefix=prefix.upper()) == ids[::-1]


def test_the_list_pages_with_an_opaque_cursor_and_no_repeats(api: Api) -> None:
    _, admin = api.signed_in("admin")
    prefix = f"page-{secrets.token_hex(4)}"
    ids = [api.register(f"{prefix}-{n}@example.com")["user"]["id"] for n in range(5)]

    seen: list[str] = []
    cursor = None
    for _ in range(5):
        params = {"email_prefix": prefix, "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.users.get("/v1/admin/users", params=params, headers=admin).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        # The cursor is opaque to clients and carries no internal id: decoded, it is the last
        # row's (created_at, public id) and nothing else.
        key = decode_cursor(cursor, (str, str))
        assert key[1] == seen[-1]
        assert str(internal_id(seen[-1])) not in key

    assert seen == ids[::-1]


@pytest.mark.parametrize(
    "query",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"cursor": "not-a-cursor"},
        {"role": "root"},
        {"status": "gone"},
    ],
)
def test_bad_list_parameters_are_422(api: Api, query: dict[str, str]) -> None:
    _, admin = api.signed_in("admin")

    response = api.users.get("/v1/admin/users", params=query, headers=admin)

    assert response.status_code == 422
    assert response.json()["code"] == "VALIDATION_FAILED"


def test_like_wildcards_in_the_prefix_match_only_themselves(api: Api) -> None:
    _, admin = api.signed_in("admin")

    response = api.users.get("/v1/admin/users", params={"email_prefix": "%"}, headers=admin)

    assert response.status_code == 200
    assert response.json()["items"] == []


def test_an_admin_change_is_audited_with_our_request_id_and_the_clients_beside_it(
    api: Api,
) -> None:
    # GIVEN an admin and a user
    actor, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")

    # WHEN the admin makes the user an operator, labelling the request with a forged id
    response = api.users.patch(
        f"/v1/admin/users/{target['id']}",
        json={"role": "operator"},
        headers={**admin, "X-Request-ID": "forged"},
    )

    # THEN the user is an operator and one audit row tells who, what, before/after; its
    # request id is the server's own (the one answered), the client's label kept beside it
    assert response.status_code == 200
    assert (response.json()["role"], response.json()["status"]) == ("operator", "active")
    server_id = response.headers["x-request-id"]
    assert server_id != "forged"
    assert audit_rows(target["id"]) == [
        {
            "action": "user.update",
            "target_type": "user",
            "target_id": target["id"],
            "before_state": {"role": "user", "status": "active"},
            "after_state": {"role": "operator", "status": "active"},
            "request_id": server_id,
            "client_request_id": "forged",
            "actor": actor["id"],
        }
    ]


def test_disabling_a_user_ends_their_sessions_at_once(api: Api) -> None:
    _, admin = api.signed_in("admin")
    victim = api.register()

    response = api.users.patch(
        f"/v1/admin/users/{victim['user']['id']}", json={"status": "disabled"}, headers=admin
    )

    assert response.status_code == 200
    assert api.me(victim["access_token"]).status_code == 401
    assert api.refresh(victim["refresh_token"]).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {"role": "admin", "email": "x@example.com"},
        {"balance": 99999},
        {"status": "active", "password_hash": "x"},
        {},
    ],
)
def test_a_patch_with_other_fields_is_422_and_changes_nothing(
    api: Api, body: dict[str, Any]
) -> None:
    _, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")

    response = api.users.patch(f"/v1/admin/users/{target['id']}", json=body, headers=admin)

    assert response.status_code == 422
    after = api.users.get(f"/v1/admin/users/{target['id']}", headers=admin).json()
    assert (after["role"], after["status"], after["email"]) == ("user", "active", target["email"])
    assert audit_rows(target["id"]) == []


def test_an_admin_cannot_change_their_own_access(api: Api) -> None:
    actor, admin = api.signed_in("admin")

    response = api.users.patch(
        f"/v1/admin/users/{actor['id']}", json={"role": "user"}, headers=admin
    )

    assert response.status_code == 403
    assert api.users.get("/v1/admin/users", headers=admin).status_code == 200


def test_an_unknown_user_is_404(api: Api) -> None:
    _, admin = api.signed_in("admin")

    for method, path, body in ADMIN_ROUTES[1:]:
        response = api.users.request(
            method, path.format(id="usr_doesnotexist0000"), json=body, headers=admin
        )
        assert response.status_code == 404, (method, path)
