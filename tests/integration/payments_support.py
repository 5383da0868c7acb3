"""Orders paid and refunded through the fake provider: signed notifications of a payment or
of a refund, and what a user's balance, ledger and orders look like after."""

from __future__ import annotations

import secrets
import time
from typing import Any

import httpx

from retouch.core.db import get_database
from retouch.core.settings import get_settings
from retouch.payments.fake import fake_key, payment_event, signed_notification
from tests.integration.identity_support import Api, internal_id

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
    """A payment notification body and its headers, signed with the fake's key unless told."""
    event = payment_event(
        order_id=order_id,
        amount_cents=amount,
        currency="CNY",
        transaction_id=txn or f"42{secrets.token_hex(8)}",
    )
    return signed(event, key=key, timestamp=timestamp, nonce=nonce)


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


def signed(
    event: dict[str, Any],
    *,
    key: bytes | None = None,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> tuple[bytes, dict[str, str]]:
    """`event` as a notification body and its headers, signed with the fake's key unless
    told."""
    return signed_notification(
        fake_key(get_settings()) if key is None else key,
        event,
        timestamp=int(time.time()) if timestamp is None else timestamp,
        nonce=nonce or secrets.token_hex(16),
    )


def refund_notification(
    order_id: str, amount: int, *, refund_no: str | None = None, nonce: str | None = None
) -> tuple[bytes, dict[str, str]]:
    """A WeChat Pay-shaped `REFUND.SUCCESS` of the order's refund (its number read from the
    order unless told), signed."""
    number = refund_no or refund_no_of(order_id)
    return signed(
        {
            "id": f"evt-{secrets.token_hex(4)}",
            "event_type": "REFUND.SUCCESS",
            "resource": {
                "out_trade_no": order_id,
                "out_refund_no": number,
                "refund_id": f"50{secrets.token_hex(8)}",
                "refund_status": "SUCCESS",
                "amount": {"total": amount, "refund": amount},
            },
        },
        nonce=nonce,
    )


def refund_no_of(order_id: str) -> str:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one("SELECT refund_no FROM orders WHERE public_id = %s", (order_id,))
    assert row is not None and row["refund_no"], "the refund was not asked for"
    return str(row["refund_no"])


def paid_order(api: Api, headers: dict[str, str], product: str = "credits_500") -> dict[str, Any]:
    """An order of `product`, paid by a valid notification."""
    placed = order(api, headers, product)
    response = send(api, notification(placed["id"], placed["amount_cents"]))
    assert response.status_code == 200, response.text
    return placed
