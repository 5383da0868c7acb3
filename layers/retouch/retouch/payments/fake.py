"""The local payment provider `fake`: WeChat Pay v3's notification shape, simplified.

Headers `Wechatpay-Timestamp` (Unix seconds), `Wechatpay-Nonce` and `Wechatpay-Signature`:
base64 of HMAC-SHA256 over `"{timestamp}\\n{nonce}\\n{body}\\n"` with a key derived from the
service's signing key (WeChat Pay signs the same string with RSA-SHA256 and the platform
certificate). The body is `{"id", "event_type": "TRANSACTION.SUCCESS" | "REFUND.SUCCESS",
"resource": {...}}` with the resource in clear (WeChat Pay encrypts it with AES-256-GCM and
the API v3 key). A refund is accepted at once; its notification is what the tests send.
With `RETOUCH_PAYMENTS_FAKE_OUTAGE` every refund call fails as an unreachable gateway does
(ServiceUnavailable). Offered on the local, test and dev stages only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from retouch.core.errors import ServiceUnavailable
from retouch.core.security import derived_key
from retouch.core.settings import Settings
from retouch.payments.errors import NotificationRejected
from retouch.payments.port import OrderToPay, PaymentNotice, RefundToMake

#: How far a notification's timestamp may be from now, either way.
WINDOW_S = 300
STAGES = ("local", "test", "dev")


def fake_key(settings: Settings) -> bytes:
    return derived_key(settings, "payments/fake")


def signature(key: bytes, *, timestamp: str, nonce: str, body: bytes) -> str:
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def signed_notification(
    key: bytes, event: dict[str, Any], *, timestamp: int, nonce: str
) -> tuple[bytes, dict[str, str]]:
    """`event` as the fake gateway sends it: the body and its signed headers."""
    body, stamp = json.dumps(event).encode(), str(timestamp)
    return body, {
        "Content-Type": "application/json",
        "Wechatpay-Timestamp": stamp,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature(key, timestamp=stamp, nonce=nonce, body=body),
    }


def payment_event(
    *, order_id: str, amount_cents: int, currency: str, transaction_id: str
) -> dict[str, Any]:
    """The `TRANSACTION.SUCCESS` event of a paid order."""
    return {
        "id": f"evt-{transaction_id}",
        "event_type": "TRANSACTION.SUCCESS",
        "resource": {
            "out_trade_no": order_id,
            "transaction_id": transaction_id,
            "trade_state": "SUCCESS",
            "amount": {"total": amount_cents, "currency": currency},
        },
    }


class FakePaymentProvider:
    name = "fake"

    def __init__(self, key: bytes, *, outage: bool = False) -> None:
        self._key = key
        self._outage = outage

    def prepare(self, order: OrderToPay) -> dict[str, str]:
        return {"prepay_id": f"fake-{order.public_id}"}

    def refund(self, refund: RefundToMake) -> str:
        if self._outage:
            raise ServiceUnavailable("The payment provider cannot be reached; retry later")
        return f"fake-refund-{refund.refund_no}"

    def verify(self, *, headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentNotice:
        timestamp = headers.get("wechatpay-timestamp", "")
        nonce = headers.get("wechatpay-nonce", "")
        sent = headers.get("wechatpay-signature", "")
        expected = signature(self._key, timestamp=timestamp, nonce=nonce, body=body)
        if not (timestamp.isdigit() and 0 < len(nonce) <= 64) or not hmac.compare_digest(
            sent.encode(), expected.encode()
        ):
            raise NotificationRejected("The notification signature does not verify")
        if abs(now.timestamp() - int(timestamp)) > WINDOW_S:
            raise NotificationRejected("The notification timestamp is outside the accepted window")
        return _notice(nonce, body)


def _notice(nonce: str, body: bytes) -> PaymentNotice:
    try:
        event = json.loads(body)
        resource: dict[str, Any] = event["resource"]
        if event.get("event_type") == "REFUND.SUCCESS":
            return _refund_notice(nonce, resource)
        amount = resource["amount"]
        notice = PaymentNotice(
            nonce=nonce,
            order_id=str(resource["out_trade_no"]),
            transaction_id=str(resource["transaction_id"]),
            amount_cents=int(amount["total"]),
            currency=str(amount["currency"]),
        )
        succeeded = resource["trade_state"] == "SUCCESS"
    except (ValueError, KeyError, TypeError):
        raise NotificationRejected("The notification signature does not verify") from None
    if not succeeded:
        raise NotificationRejected("The notification signature does not verify")
    return notice


def _refund_notice(nonce: str, resource: dict[str, Any]) -> PaymentNotice:
    """WeChat Pay's refund resource: `out_refund_no`, `refund_id`, `refund_status`, and
    `amount.refund` (no currency: the order's, CNY)."""
    if resource["refund_status"] != "SUCCESS":
        raise ValueError("not a successful refund")
    return PaymentNotice(
        nonce=nonce,
        order_id=str(resource["out_trade_no"]),
        transaction_id=str(resource["refund_id"]),
        amount_cents=int(resource["amount"]["refund"]),
        currency=str(resource["amount"].get("currency", "CNY")),
        event="refund",
        refund_no=str(resource["out_refund_no"]),
    )
