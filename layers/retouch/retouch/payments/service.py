"""Ordering a product, and applying a provider's payment notification exactly once.

A notification is applied in one transaction: its nonce recorded (another body under a used
nonce is a replay, refused), the order locked, the amount and currency compared with the
order's, the status moved `created` → `paid` by a guarded update, and only when that update
changed the row, the product applied: the plan's membership extended, or the credits added
as a `top_up`. The same notification again finds the order paid and applies nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime, timedelta

from retouch.caller.cached import forget_caller
from retouch.core.errors import FieldError, NotFound, ValidationFailed
from retouch.core.identity import Principal
from retouch.core.ids import new_public_id
from retouch.core.logging import logger
from retouch.core.pagination import decode_row_cursor, row_page
from retouch.core.security import derived_key
from retouch.core.settings import Settings
from retouch.core.time import Clock, to_millis, utc_now
from retouch.core.units import Transaction, Transactions
from retouch.payments.errors import NotificationRejected, PaymentMismatch
from retouch.payments.port import OrderToPay, PaymentNotice
from retouch.payments.products import PRODUCTS, Product
from retouch.payments.providers import payment_provider
from retouch.payments.refunds import apply_refund
from retouch.payments.repository import Order, OrderRepository
from retouch.payments.schemas import (
    MAX_PAGE_SIZE,
    NotificationAck,
    OrderAdminPage,
    OrderAdminRead,
    OrderCreate,
    OrderPage,
    OrderRead,
)
from retouch.quota.memberships import change_membership
from retouch.quota.periods import current_membership
from retouch.quota.repository import PlanRepository
from retouch.quota.service import top_up_credits


def create_order(
    *,
    database: Transactions,
    settings: Settings,
    principal: Principal,
    request: OrderCreate,
    clock: Clock = utc_now,
) -> OrderRead:
    """A `created` order of the product at its price, and what the client pays it with."""
    product = PRODUCTS.get(request.product)
    if product is None or not _offered(database, product):
        raise ValidationFailed(
            "No such product",
            errors=[FieldError("body.product", "no such product", "product_unknown")],
        )
    try:
        provider = payment_provider(settings, request.provider)
    except NotFound:
        raise ValidationFailed(
            "No such payment provider",
            errors=[FieldError("body.provider", "no such payment provider", "provider_unknown")],
        ) from None
    order = Order(
        public_id=new_public_id("ord"),
        user_id=principal.user.id,
        product=product.code,
        amount_cents=product.amount_cents,
        currency=product.currency,
        provider=provider.name,
        status="created",
        created_at=to_millis(clock()),
        paid_at=None,
    )
    with database.unit_of_work() as uow:
        uow.repository(OrderRepository).add(order)
        uow.commit()
    payment = provider.prepare(
        OrderToPay(order.public_id, order.product, order.amount_cents, order.currency)
    )
    return OrderRead.of(order, payment)


def _offered(database: Transactions, product: Product) -> bool:
    """A credit pack always is; a plan month while the plan is not archived."""
    if product.plan is None:
        return True
    with database.unit_of_work() as uow:
        plan = uow.repository(PlanRepository).get(product.plan)
    return plan is not None and not plan.archived


def handle_notification(
    *,
    database: Transactions,
    settings: Settings,
    provider_name: str,
    headers: Mapping[str, str],
    body: bytes,
    clock: Clock = utc_now,
) -> NotificationAck:
    """Verify a provider's notification and apply its payment once (see the module)."""
    now = clock()
    notice = payment_provider(settings, provider_name).verify(headers=headers, body=body, now=now)
    digest = hashlib.sha256(body).hexdigest()
    with database.unit_of_work() as uow:
        seen = uow.repository(OrderRepository).record_nonce(
            provider=provider_name, nonce=notice.nonce, body_sha256=digest, now=now
        )
        if seen == "other":
            raise NotificationRejected("The notification nonce was already used")
        if notice.event == "refund":
            apply_refund(uow, provider_name, notice, now)
        else:
            _apply_payment(uow, provider_name, notice, now)
        owner = uow.repository(OrderRepository).owner(notice.order_id)
        uow.commit()
    if owner is not None:  # a plan bought or taken back: the caller's membership changed
        forget_caller(owner)
    return NotificationAck(code="SUCCESS", message="OK")


def _apply_payment(
    uow: Transaction, provider_name: str, notice: PaymentNotice, now: datetime
) -> None:
    order = _matching_order(uow, provider_name, notice)
    orders = uow.repository(OrderRepository)
    if orders.mark_paid(order.public_id, transaction_id=notice.transaction_id, now=now):
        _apply(uow, order, PRODUCTS[order.product], now)
        logger.info("order paid", extra={"order": order.public_id, "product": order.product})


def _matching_order(uow: Transaction, provider_name: str, notice: PaymentNotice) -> Order:
    order = uow.repository(OrderRepository).get(notice.order_id, for_update=True)
    if order is None or order.provider != provider_name:
        raise PaymentMismatch("No order of this provider matches the notification")
    if (order.amount_cents, order.currency) != (notice.amount_cents, notice.currency):
        raise PaymentMismatch("The paid amount differs from the order's")
    paid = uow.repository(OrderRepository).paid_with(
        provider=provider_name, transaction_id=notice.transaction_id
    )
    if paid not in (None, order.public_id):
        raise PaymentMismatch("The transaction already paid another order")
    return order


def _apply(uow: Transaction, order: Order, product: Product, now: datetime) -> None:
    if product.kind == "credits":
        top_up_credits(
            uow=uow,
            user_id=order.user_id,
            amount=product.credits,
            ref=order.public_id,
            reason=f"order {order.public_id}: {product.code}",
            clock=lambda: now,
        )
        return
    held = current_membership(uow, user_id=order.user_id, now=now)
    start = held.expires_at if held.plan.code == product.plan and held.expires_at else now
    change_membership(
        uow=uow,
        user_id=order.user_id,
        plan_code=str(product.plan),
        expires_at=start + timedelta(days=product.days),
        clock=lambda: now,
        allow_archived=True,  # paid for while the plan was offered
    )


def list_orders(
    *,
    database: Transactions,
    settings: Settings,
    user_public_id: str,
    cursor: str | None,
    limit: int = 20,
) -> OrderPage:
    """One page of the user's orders, newest first, keyset on the row id. `cursor` is the
    previous page's `next_cursor`, sealed and bound to the user: an edited, malformed or
    another user's cursor raises InvalidCursor (422)."""
    rows, next_cursor = _orders_page(
        database, settings, user_public_id, f"orders|{user_public_id}", cursor, limit
    )
    return OrderPage(items=[OrderRead.of(order) for _, order, _ in rows], next_cursor=next_cursor)


def get_order(*, database: Transactions, user_id: int, public_id: str) -> OrderRead:
    """One of the user's orders; another user's, like a missing one, is NotFound (404)."""
    with database.unit_of_work() as uow:
        order = uow.repository(OrderRepository).get(public_id)
    if order is None or order.user_id != user_id:
        raise NotFound("No such order")
    return OrderRead.of(order)


def list_all_orders(
    *,
    database: Transactions,
    settings: Settings,
    user_public_id: str | None,
    cursor: str | None,
    limit: int = 20,
) -> OrderAdminPage:
    """One page of every user's orders (or one user's), newest first, for admins; the cursor
    is sealed and bound to the filter."""
    context = f"admin-orders|{user_public_id or ''}"
    rows, next_cursor = _orders_page(database, settings, user_public_id, context, cursor, limit)
    items = [
        OrderAdminRead(**OrderRead.of(order).model_dump(), user_id=user) for _, order, user in rows
    ]
    return OrderAdminPage(items=items, next_cursor=next_cursor)


def _orders_page(
    database: Transactions,
    settings: Settings,
    user_public_id: str | None,
    context: str,
    cursor: str | None,
    limit: int,
) -> tuple[list[tuple[int, Order, str]], str | None]:
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"limit must be 1..{MAX_PAGE_SIZE}, not {limit}")
    secret = derived_key(settings, "order-cursor")
    before_id = decode_row_cursor(cursor, secret=secret, context=context)
    with database.unit_of_work() as uow:
        rows = uow.repository(OrderRepository).page(
            user_public_id=user_public_id, before_id=before_id, limit=limit + 1
        )
    return row_page(rows, limit=limit, row_id=lambda row: row[0], secret=secret, context=context)
