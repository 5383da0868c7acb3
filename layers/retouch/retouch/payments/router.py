"""`/v1/orders`, `POST /v1/admin/orders/{id}/refund` and `POST /v1/payments/notify/{provider}`
(users function)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from retouch.caller.dependencies import current_user, require_permission
from retouch.core.db import get_database
from retouch.core.errors import ServiceUnavailable, raises
from retouch.core.identity import Principal
from retouch.core.permissions import Permission
from retouch.core.settings import get_settings
from retouch.http.dependencies import IdempotencyKeyHeader, RequestId
from retouch.http.routing import api_router
from retouch.idempotency.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from retouch.payments import refunds, service
from retouch.payments.errors import NotificationRejected, OrderNotRefundable, PaymentMismatch
from retouch.payments.schemas import (
    MAX_PAGE_SIZE,
    NotificationAck,
    OrderAdminPage,
    OrderCreate,
    OrderPage,
    OrderRead,
    RefundCreate,
)

orders_router = api_router(prefix="/v1/orders", tags=["orders"])
notify_router = api_router(prefix="/v1/payments", tags=["orders"])
admin_orders_router = api_router(prefix="/v1/admin/orders", tags=["admin"])

Caller = Annotated[Principal, Depends(current_user)]
OrderId = Annotated[
    str, Path(pattern=r"^ord_[A-Za-z0-9_-]{10,40}$", description="the order's id (ord_...)")
]


@orders_router.post("", response_model=OrderRead, status_code=201)
def create_order(
    request: OrderCreate, caller: Annotated[Principal, Depends(current_user)]
) -> OrderRead:
    """Order a product (a month of a plan, or a credit pack) to pay with a provider; the
    plan or credits arrive once the provider's notification confirms the payment."""
    return service.create_order(
        database=get_database(), settings=get_settings(), principal=caller, request=request
    )


@orders_router.get("", response_model=OrderPage)
def list_orders(
    caller: Caller,
    cursor: Annotated[str | None, Query(max_length=512, description="a page's next_cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> OrderPage:
    """Your orders, newest first; pass `next_cursor` back as `cursor` for the next page."""
    return service.list_orders(
        database=get_database(),
        settings=get_settings(),
        user_public_id=caller.user.public_id,
        cursor=cursor,
        limit=limit,
    )


@orders_router.get("/{order_id}", response_model=OrderRead)
def get_order(order_id: OrderId, caller: Caller) -> OrderRead:
    """One of your orders (another user's is 404)."""
    return service.get_order(database=get_database(), user_id=caller.user.id, public_id=order_id)


@admin_orders_router.get("", response_model=OrderAdminPage)
def list_all_orders(
    _caller: Annotated[Principal, Depends(require_permission(Permission.USERS_READ))],
    user: Annotated[
        str | None, Query(pattern=r"^usr_[A-Za-z0-9_-]{10,40}$", description="one user's")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=512, description="a page's next_cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> OrderAdminPage:
    """Every user's orders, or one user's (`user=usr_…`), newest first (operators and
    admins); pass `next_cursor` back as `cursor` for the next page."""
    return service.list_all_orders(
        database=get_database(),
        settings=get_settings(),
        user_public_id=user,
        cursor=cursor,
        limit=limit,
    )


@admin_orders_router.post("/{order_id}/refund", response_model=OrderRead, status_code=202)
@raises(OrderNotRefundable, IdempotencyKeyInUse, IdempotencyKeyReused, ServiceUnavailable)
def refund_order(
    order_id: OrderId,
    refund: RefundCreate,
    caller: Annotated[Principal, Depends(require_permission(Permission.ORDERS_REFUND))],
    request: RequestId,
    idempotency_key: IdempotencyKeyHeader = None,
) -> OrderRead:
    """Refund a paid order in full through its provider (admins only; audited). The order
    is `refunding` until the provider's refund notification confirms it; then a credit
    pack's credits are taken back (as many as remain) or a plan month ends. Send an
    `Idempotency-Key` to retry safely. A 503 means the provider could not be reached: the
    order stays `refunding`, and asking again sends the same refund, which is refunded
    once."""
    return refunds.request_refund(
        database=get_database(),
        settings=get_settings(),
        actor=caller,
        public_id=order_id,
        refund=refund,
        idempotency_key=idempotency_key,
        request_id=request,
    )


@notify_router.post("/notify/{provider}", response_model=NotificationAck)
@raises(NotificationRejected, PaymentMismatch)
async def payment_notification(
    request: Request,
    provider: Annotated[str, Path(max_length=32, pattern=r"^[a-z][a-z0-9_]*$")],
) -> NotificationAck:
    """A payment provider's signed notification of a payment or a refund (not for clients):
    verified, replay-safe, its amount checked against the order's, applied exactly once."""
    body = await request.body()
    return await run_in_threadpool(
        service.handle_notification,
        database=get_database(),
        settings=get_settings(),
        provider_name=provider,
        headers=request.headers,
        body=body,
    )
