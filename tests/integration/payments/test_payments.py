"""Orders and the fake payment provider on the real stack: an order is paid by a signed
notification and its product applied exactly once; forged, stale, replayed, other-amount
and other-order notifications are refused with nothing applied."""

from __future__ import annotations

import json
import secrets
import threading
import time
from typing import Any

import httpx
import pytest

from retouch.core.db import get_database
from retouch.core.settings import get_settings
from retouch.payments.fake import fake_key, signature
from tests.integration.identity_support import Api, internal_id

pytestmark = pytest.mark.integration

NOTIFY = "/v1/payments/notify/fake"


def notification(
    order_id: str,
    amount: int,
    *,
    key: bytes | None = None,
    timestamp: int | None = None,
    nonce: str | None = None,
    txn: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """A notification body and its headers, signed with the fake's key unless told."""
    body = json.dumps(
        {
            "id": f"evt-{secrets.token_hex(4)}",
            "event_type": "TRANSACTION.SUCCESS",
            "resource": {
                "out_trade_no": order_id,
                "transaction_id": txn or f"42{secrets.token_hex(8)}",
                "trade_state": "SUCCESS",
                "amount": {"total": amount, "currency": "CNY"},
            },
        }
    ).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    once = nonce or secrets.token_hex(16)
    sign_key = fake_key(get_settings()) if key is None else key
    return body, {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": once,
        "Wechatpay-Signature": signature(sign_key, timestamp=stamp, nonce=once, body=body),
    }


def send(api: Api, signed: tuple[bytes, dict[str, str]]) -> httpx.Response:
    body, headers = signed
    response: httpx.Response = api.users.post(NOTIFY, content=body, headers=headers)
    return response


def order(api: Api, headers: dict[str, str], product: str = "credits_500") -> dict[str, Any]:
    response = api.users.post("/v1/orders", json={"product": product}, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


def state(user: dict[str, Any]) -> dict[str, Any]:
    """The user's balance, top-up rows and orders' statuses."""
    user_id = internal_id(user["id"])
    with get_database().unit_of_work() as uow:
        account = uow.fetch_one("SELECT balance FROM quota_accounts WHERE user_id = %s", (user_id,))
        top_ups = uow.fetch_all(
            "SELECT amount FROM quota_ledger WHERE user_id = %s AND kind = 'top_up'", (user_id,)
        )
        orders = uow.fetch_all("SELECT status FROM orders WHERE user_id = %s", (user_id,))
    assert account is not None
    return {
        "balance": int(account["balance"]),
        "top_ups": [int(row["amount"]) for row in top_ups],
        "orders": sorted(row["status"] for row in orders),
    }


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
