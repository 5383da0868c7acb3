"""The payment port: what an adapter of a gateway (WeChat Pay v3, Alipay) implements.

`prepare` turns an order into what the client needs to pay (a prepay id, a QR code URL);
`refund` asks the gateway to refund a paid order in full; `verify` checks a notification's
signature, timestamp window and shape and returns the payment or refund it reports. Replays
(the nonce table) and amounts (the order) are checked by the service, the same for every
adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol


@dataclass(frozen=True, slots=True)
class OrderToPay:
    public_id: str
    product: str
    amount_cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class RefundToMake:
    """A whole paid order to refund; `refund_no` names the refund at the gateway, the same
    on every retry, so asking twice refunds once."""

    order_id: str
    refund_no: str
    amount_cents: int
    currency: str
    reason: str


@dataclass(frozen=True, slots=True)
class PaymentNotice:
    """A verified notification: the payment of `order_id` succeeded (`event` "payment"), or
    its refund `refund_no` did ("refund": `transaction_id` is then the gateway's refund id
    and `amount_cents` the amount refunded)."""

    nonce: str
    order_id: str
    transaction_id: str
    amount_cents: int
    currency: str
    event: Literal["payment", "refund"] = "payment"
    refund_no: str | None = None


class PaymentPort(Protocol):
    name: str

    def prepare(self, order: OrderToPay) -> dict[str, str]:
        """What the client pays with (shown in the order's `payment`)."""
        ...

    def refund(self, refund: RefundToMake) -> str:
        """Ask the gateway to refund; the gateway's refund id. Its errors raise
        ServiceUnavailable (the order stays `refunding`, and asking again is safe)."""
        ...

    def verify(self, *, headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentNotice:
        """The payment the notification reports; NotificationRejected (403) when its
        signature, timestamp or shape is wrong."""
        ...
