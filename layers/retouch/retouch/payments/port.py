"""The payment port: what an adapter of a gateway (WeChat Pay v3, Alipay) implements.

`prepare` turns an order into what the client needs to pay (a prepay id, a QR code URL);
`verify` checks a notification's signature, timestamp window and shape and returns the
payment it reports. Replays (the nonce table) and amounts (the order) are checked by the
service, the same for every adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class OrderToPay:
    public_id: str
    product: str
    amount_cents: int
    currency: str


@dataclass(frozen=True, slots=True)
class PaymentNotice:
    """A verified notification: the payment of `order_id` succeeded."""

    nonce: str
    order_id: str
    transaction_id: str
    amount_cents: int
    currency: str


class PaymentPort(Protocol):
    name: str

    def prepare(self, order: OrderToPay) -> dict[str, str]:
        """What the client pays with (shown in the order's `payment`)."""
        ...

    def verify(self, *, headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentNotice:
        """The payment the notification reports; NotificationRejected (403) when its
        signature, timestamp or shape is wrong."""
        ...
