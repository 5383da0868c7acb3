"""Order DTOs."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from retouch.core.schemas import Schema, StrictRequestSchema


class OrderCreate(StrictRequestSchema):
    """`POST /v1/orders`: a product code (`pro_month`, `credits_500`, ...) and the provider."""

    product: str = Field(min_length=1, max_length=32)
    provider: str = Field("fake", min_length=1, max_length=32)


class OrderRead(Schema):
    id: str
    product: str
    amount_cents: int
    currency: str
    status: str
    created_at: datetime
    paid_at: datetime | None
    payment: dict[str, str]


class NotificationAck(Schema):
    """What the provider reads: the notification was taken (applied now or before)."""

    code: str
    message: str
