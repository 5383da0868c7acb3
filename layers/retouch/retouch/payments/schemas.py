"""Order and refund DTOs."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from retouch.core.schemas import Schema, StrictRequestSchema
from retouch.payments.repository import Order

MAX_PAGE_SIZE = 100


class OrderCreate(StrictRequestSchema):
    """`POST /v1/orders`: a product code (`pro_month`, `credits_500`, ...) and the provider."""

    product: str = Field(min_length=1, max_length=32)
    provider: str = Field("fake", min_length=1, max_length=32)


class OrderRead(Schema):
    """An order; `status` is `created`, `paid`, `refunding` or `refunded`."""

    id: str
    product: str
    amount_cents: int
    currency: str
    status: str
    created_at: datetime
    paid_at: datetime | None
    refunded_at: datetime | None = None
    refund_shortfall: int | None = Field(
        None, description="credits of a refunded pack that were already spent, not taken back"
    )
    payment: dict[str, str] = Field(
        default_factory=dict, description="what to pay with; in the answer to POST /v1/orders"
    )

    @classmethod
    def of(cls, order: Order, payment: dict[str, str] | None = None) -> OrderRead:
        return cls(
            id=order.public_id,
            product=order.product,
            amount_cents=order.amount_cents,
            currency=order.currency,
            status=order.status,
            created_at=order.created_at,
            paid_at=order.paid_at,
            refunded_at=order.refunded_at,
            refund_shortfall=order.refund_shortfall,
            payment=payment or {},
        )


class OrderPage(Schema):
    items: list[OrderRead]
    next_cursor: str | None


class OrderAdminRead(OrderRead):
    """An order as admins list it: with its user's public id."""

    user_id: str


class OrderAdminPage(Schema):
    items: list[OrderAdminRead]
    next_cursor: str | None


class RefundCreate(StrictRequestSchema):
    """`POST /v1/admin/orders/{id}/refund`: why the whole order is refunded (audited)."""

    reason: str = Field(min_length=1, max_length=200)


class NotificationAck(Schema):
    """What the provider reads: the notification was taken (applied now or before)."""

    code: str
    message: str
