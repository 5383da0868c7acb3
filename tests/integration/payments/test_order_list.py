"""`GET /v1/orders` and `GET /v1/orders/{id}` on the real stack: the caller's orders only,
newest first, in pages whose cursor cannot be edited or used by another user."""

from __future__ import annotations

import pytest

from tests.integration.identity_support import Api
from tests.integration.payments_support import order, paid_order

pytestmark = pytest.mark.integration


def test_orders_are_listed_newest_first_in_pages(api: Api) -> None:
    _, headers = api.signed_in("user")
    _, other = api.signed_in("user")
    placed = [order(api, headers), paid_order(api, headers, "pro_month"), order(api, headers)]
    order(api, other)

    first = api.users.get("/v1/orders", params={"limit": 2}, headers=headers).json()
    second = api.users.get(
        "/v1/orders", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
    ).json()

    ids = [item["id"] for item in first["items"] + second["items"]]
    assert ids == [placed[2]["id"], placed[1]["id"], placed[0]["id"]]
    assert second["next_cursor"] is None
    assert first["items"][1]["status"] == "paid"
    assert first["items"][1]["payment"] == {}


def test_a_cursor_edited_or_of_another_user_is_refused(api: Api) -> None:
    _, headers = api.signed_in("user")
    _, other = api.signed_in("user")
    for _ in range(2):
        order(api, headers)
    cursor = api.users.get("/v1/orders", params={"limit": 1}, headers=headers).json()["next_cursor"]

    theirs = api.users.get("/v1/orders", params={"cursor": cursor}, headers=other)
    edited = api.users.get("/v1/orders", params={"cursor": cursor[:-2] + "AA"}, headers=headers)

    assert (theirs.status_code, edited.status_code) == (422, 422)


def test_one_order_is_read_by_its_owner_only(api: Api) -> None:
    _, headers = api.signed_in("user")
    _, other = api.signed_in("user")
    placed = paid_order(api, headers)

    mine = api.users.get(f"/v1/orders/{placed['id']}", headers=headers)
    theirs = api.users.get(f"/v1/orders/{placed['id']}", headers=other)
    malformed = api.users.get("/v1/orders/not-an-order", headers=headers)
    anonymous = api.users.get(f"/v1/orders/{placed['id']}")

    assert mine.status_code == 200
    assert (mine.json()["id"], mine.json()["status"]) == (placed["id"], "paid")
    assert (theirs.status_code, theirs.json()["code"]) == (404, "NOT_FOUND")
    assert malformed.status_code == 422
    assert anonymous.status_code == 401


def test_admins_list_everyones_orders_or_one_users(api: Api) -> None:
    user, headers = api.signed_in("user")
    other, other_headers = api.signed_in("user")
    _, operator = api.signed_in("operator")
    mine = [order(api, headers), paid_order(api, headers)]
    theirs = order(api, other_headers)

    one = api.users.get("/v1/admin/orders", params={"user": user["id"]}, headers=operator)
    everyone = api.users.get("/v1/admin/orders", params={"limit": 1}, headers=operator).json()
    refused = api.users.get("/v1/admin/orders", headers=headers)
    bad = api.users.get("/v1/admin/orders", params={"user": "nobody"}, headers=operator)

    assert one.status_code == 200
    items = one.json()["items"]
    assert [(item["id"], item["user_id"]) for item in items] == [
        (mine[1]["id"], user["id"]),
        (mine[0]["id"], user["id"]),
    ]
    assert everyone["items"][0]["id"] == theirs["id"]  # the newest of all
    assert everyone["items"][0]["user_id"] == other["id"]
    assert everyone["next_cursor"] is not None
    assert (refused.status_code, bad.status_code) == (403, 422)
