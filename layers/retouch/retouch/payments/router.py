"""`POST /v1/orders` and `POST /v1/payments/notify/{provider}` (users function)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from starlette.concurrency import run_in_threadpool

from retouch.caller.dependencies import current_user
from retouch.core.db import get_database
from retouch.core.errors import raises
from retouch.core.identity import Principal
from retouch.core.settings import get_settings
from retouch.http.routing import api_router
from retouch.payments import service
from retouch.payments.errors import NotificationRejected, PaymentMismatch
from retouch.payments.schemas import NotificationAck, OrderCreate, OrderRead

orders_router = api_router(prefix="/v1/orders", tags=["orders"])
notify_router = api_router(prefix="/v1/payments", tags=["orders"])


@orders_router.post("", response_model=OrderRead, status_code=201)
def create_order(
    request: OrderCreate, caller: Annotated[Principal, Depends(current_user)]
) -> OrderRead:
    """Order a product (a month of a plan, or a credit pack) to pay with a provider; the
    plan or credits arrive once the provider's notification confirms the payment."""
    return service.create_order(
        database=get_database(), settings=get_settings(), principal=caller, request=request
    )


@notify_router.post("/notify/{provider}", response_model=NotificationAck)
@raises(NotificationRejected, PaymentMismatch)
async def payment_notification(
    request: Request,
    provider: Annotated[str, Path(max_length=32, pattern=r"^[a-z][a-z0-9_]*$")],
) -> NotificationAck:
    """A payment provider's signed notification (not for clients): verified, replay-safe,
    its amount checked against the order's, applied exactly once."""
    body = await request.body()
    return await run_in_threadpool(
        service.handle_notification,
        database=get_database(),
        settings=get_settings(),
        provider_name=provider,
        headers=request.headers,
        body=body,
    )
