"""Orders and the fake payment provider on the real stack: an order is paid by a signed
notification and its product applied exactly once; forged, stale, replayed, other-amount
and other-order notifications are refused with nothing applied."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from tests.integration.identity_support import Api
from tests.integration.payments_support import notification, order, send, state

pytestmark = pytest.mark.integration


def test_a_paid_credit_pack_adds_its_credits_as_a_top_up(api: Api) -> None:
    user, headers = api.signed_in("user")
    before = state(user)

    placed = order(api, headers)
    assert (placed["status"], placed["amount_cents"], placed["currency"]) == (
        "created",
        1500,
        "CNY",
    )
    assert placed["payment"] == {"prepay_id": f"fake-{placed['id']}"}
    response = send(api, notification(placed["id"], 1500))

    assert response.status_code == 200, response.text
    assert response.json() == {"code": "SUCCESS", "message": "OK"}
    assert state(user) == {
        "balance": before["balance"] + 500,
        "top_ups": [500],
        "orders": ["paid"],
    }


def test_the_same_notification_three_times_applies_once(api: Api) -> None:
    user, headers = api.signed_in("user")
    before = state(user)
    placed = order(api, headers)
    signed = notification(placed["id"], 1500)

    answers = [send(api, signed).status_code for _ in range(3)]

    assert answers == [200, 200, 200]
    assert state(user)["top_ups"] == [500]
    assert state(user)["balance"] == before["balance"] + 500


def test_the_same_notification_three_times_at_once_applies_once(api: Api) -> None:
    user, headers = api.signed_in("user")
    before = state(user)
    placed = order(api, headers)
    signed = notification(placed["id"], 1500)
    barrier = threading.Barrier(3)
    answers: list[int] = []

    def deliver() -> None:
        barrier.wait()
        answers.append(send(api, signed).status_code)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [200, 200, 200]
    assert state(user) == {
        "balance": before["balance"] + 500,
        "top_ups": [500],
        "orders": ["paid"],
    }


@pytest.mark.parametrize(
    ("forge", "status", "code"),
    [
        ({"key": b"k" * 32}, 403, "SIGNATURE_INVALID"),
        ({"timestamp": int(time.time()) - 3600}, 403, "SIGNATURE_INVALID"),
        ({"timestamp": int(time.time()) + 3600}, 403, "SIGNATURE_INVALID"),
        ({"amount": 1}, 409, "PAYMENT_MISMATCH"),
        ({"order_id": "ord_AAAAAAAAAAAAAAAAAAAAAA"}, 409, "PAYMENT_MISMATCH"),
    ],
    ids=["forged", "stale", "future", "another-amount", "another-order"],
)
def test_bad_notifications_are_refused_and_apply_nothing(
    api: Api, forge: dict[str, Any], status: int, code: str
) -> None:
    user, headers = api.signed_in("user")
    before = state(user)
    placed = order(api, headers)
    order_id = forge.pop("order_id", placed["id"])
    amount = forge.pop("amount", 1500)

    response = send(api, notification(order_id, amount, **forge))

    assert response.status_code == status, response.text
    assert response.json()["code"] == code
    assert state(user) == {**before, "orders": ["created"]}


def test_a_transaction_that_paid_one_order_cannot_pay_another(api: Api) -> None:
    user, headers = api.signed_in("user")
    first, second = order(api, headers), order(api, headers)
    assert send(api, notification(first["id"], 1500, txn="42-one-txn")).status_code == 200
    after_first = state(user)

    response = send(api, notification(second["id"], 1500, txn="42-one-txn"))

    assert (response.status_code, response.json()["code"]) == (409, "PAYMENT_MISMATCH")
    assert state(user) == after_first


def test_a_nonce_replayed_with_another_body_is_refused(api: Api) -> None:
    user, headers = api.signed_in("user")
    first, second = order(api, headers), order(api, headers)
    assert send(api, notification(first["id"], 1500, nonce="n-replay-1")).status_code == 200
    after_first = state(user)

    # the same nonce, validly signed again, over another order's payment
    response = send(api, notification(second["id"], 1500, nonce="n-replay-1"))

    assert response.status_code == 403
    assert response.json()["code"] == "SIGNATURE_INVALID"
    assert state(user) == after_first
    assert after_first["orders"] == ["created", "paid"]


def test_a_paid_plan_order_gives_the_plan_for_a_month_and_again_extends_it(api: Api) -> None:
    _, headers = api.signed_in("user")
    first = order(api, headers, "pro_month")

    assert send(api, notification(first["id"], 3900)).status_code == 200
    me = api.users.get("/v1/me", headers=headers).json()
    assert me["membership"]["plan"] == "pro"
    one = me["membership"]["expires_at"]

    second = order(api, headers, "pro_month")
    assert send(api, notification(second["id"], 3900)).status_code == 200
    two = api.users.get("/v1/me", headers=headers).json()["membership"]["expires_at"]
    assert two > one  # ISO strings of one offset order as times


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"product": "gold_forever"}, 422),
        ({"product": "credits_500", "provider": "alipay"}, 422),
        ({"product": "credits_500", "amount_cents": 1}, 422),
    ],
)
def test_bad_orders_are_refused(api: Api, body: dict[str, Any], status: int) -> None:
    user, headers = api.signed_in("user")

    response = api.users.post("/v1/orders", json=body, headers=headers)

    assert response.status_code == status
    assert state(user)["orders"] == []


def test_orders_need_a_signed_in_user(api: Api) -> None:
    assert api.users.post("/v1/orders", json={"product": "credits_500"}).status_code == 401
