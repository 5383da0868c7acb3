"""The fake payment provider's `verify`: WeChat Pay v3's signed string, the timestamp window
and the resource's shape; any other notification is NotificationRejected."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from retouch.payments.errors import NotificationRejected
from retouch.payments.fake import FakePaymentProvider, signature
from retouch.payments.port import RefundToMake

KEY = b"k" * 32
NOW = datetime(2030, 5, 10, 12, 0, tzinfo=timezone.utc)
STAMP = str(int(NOW.timestamp()))
RESOURCE = {
    "out_trade_no": "ord_1",
    "transaction_id": "4200",
    "trade_state": "SUCCESS",
    "amount": {"total": 1500, "currency": "CNY"},
}
REFUND = {
    "out_trade_no": "ord_1",
    "out_refund_no": "rfd_1",
    "refund_id": "5000",
    "refund_status": "SUCCESS",
    "amount": {"total": 1500, "refund": 1500, "payer_total": 1500, "payer_refund": 1500},
}


def signed(
    resource: object = RESOURCE, *, stamp: str = STAMP, key: bytes = KEY, event: str | None = None
) -> tuple[dict[str, str], bytes]:
    envelope = {"id": "evt", "resource": resource}
    if event is not None:
        envelope["event_type"] = event
    body = json.dumps(envelope).encode()
    headers = {
        "wechatpay-timestamp": stamp,
        "wechatpay-nonce": "n1",
        "wechatpay-signature": signature(key, timestamp=stamp, nonce="n1", body=body),
    }
    return headers, body


def test_a_signed_notification_reports_its_payment() -> None:
    headers, body = signed()

    notice = FakePaymentProvider(KEY).verify(headers=headers, body=body, now=NOW)

    assert (notice.order_id, notice.transaction_id, notice.amount_cents, notice.currency) == (
        "ord_1",
        "4200",
        1500,
        "CNY",
    )
    assert notice.nonce == "n1"


@pytest.mark.parametrize(
    "case",
    ["other key", "edited body", "stale", "no nonce", "not success", "no amount", "not json"],
)
def test_other_notifications_are_rejected(case: str) -> None:
    headers, body = signed()
    if case == "other key":
        headers, body = signed(key=b"x" * 32)
    elif case == "edited body":
        body = body.replace(b"1500", b"1")
    elif case == "stale":
        headers, body = signed(stamp=str(int(NOW.timestamp()) - 301))
    elif case == "no nonce":
        headers["wechatpay-nonce"] = ""
    elif case == "not success":
        headers, body = signed({**RESOURCE, "trade_state": "CLOSED"})
    elif case == "no amount":
        headers, body = signed({key: value for key, value in RESOURCE.items() if key != "amount"})
    else:
        headers, body = signed("[")

    with pytest.raises(NotificationRejected):
        FakePaymentProvider(KEY).verify(headers=headers, body=body, now=NOW)


def test_a_signed_refund_notification_reports_its_refund() -> None:
    headers, body = signed(REFUND, event="REFUND.SUCCESS")

    notice = FakePaymentProvider(KEY).verify(headers=headers, body=body, now=NOW)

    assert (notice.event, notice.order_id, notice.refund_no, notice.transaction_id) == (
        "refund",
        "ord_1",
        "rfd_1",
        "5000",
    )
    assert (notice.amount_cents, notice.currency) == (1500, "CNY")


@pytest.mark.parametrize("case", ["not success", "no refund number", "no amount", "as payment"])
def test_other_refund_notifications_are_rejected(case: str) -> None:
    resource: dict[str, object] = dict(REFUND)
    event = "REFUND.SUCCESS"
    if case == "not success":
        resource["refund_status"] = "ABNORMAL"
    elif case == "no refund number":
        del resource["out_refund_no"]
    elif case == "no amount":
        resource["amount"] = {"total": 1500}
    else:
        event = "TRANSACTION.SUCCESS"  # a refund's resource read as a payment has no state
    headers, body = signed(resource, event=event)

    with pytest.raises(NotificationRejected):
        FakePaymentProvider(KEY).verify(headers=headers, body=body, now=NOW)


def test_asking_the_same_refund_again_names_the_same_refund() -> None:
    fake = FakePaymentProvider(KEY)
    refund = RefundToMake("ord_1", "rfd_1", 1500, "CNY", "duplicate")

    assert (
        fake.refund(refund)
        == fake.refund(refund)
        != fake.refund(RefundToMake("ord_1", "rfd_2", 1500, "CNY", "duplicate"))
    )
