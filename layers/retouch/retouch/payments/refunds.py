"""Refunds: an admin refunds a paid order in full through its provider, and the provider's
verified refund notification takes the product back, exactly once.

Asking moves the order `paid` → `refunding` under its lock and numbers the refund once
(`rfd_…`, the gateway's `out_refund_no`), then calls the provider outside the transaction.
A gateway error leaves the order `refunding`: asking again sends the same refund number,
which the gateway refunds once. Nothing is taken back when the refund is asked for; the
notification does it, in the transaction that records its nonce:

- a credit pack's credits leave the balance as a `refund_purchase` ledger row, as many as
  the balance holds: credits already spent cannot be taken back, so the balance reaches 0
  and the order records the shortfall (never a negative balance; reserved credits stay
  with their unfinished tasks);
- a month of a plan is taken off the membership of that plan: it ends now when less than
  the product's days were left, and the default plan applies from then. Credits already
  granted for the month stay (docs/accounts-plans.md: a plan ending changes no balance).
"""

from __future__ import annotations

from datetime import datetime

from retouch.audit.repository import AuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.core.db import Database
from retouch.core.errors import NotFound
from retouch.core.identity import Principal
from retouch.core.ids import new_public_id
from retouch.core.logging import logger
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transaction
from retouch.idempotency import IdempotencyKey, KeyClaim, complete, run_once
from retouch.payments.errors import OrderNotRefundable, PaymentMismatch
from retouch.payments.port import PaymentNotice, RefundToMake
from retouch.payments.products import PRODUCTS
from retouch.payments.providers import payment_provider
from retouch.payments.repository import Order, OrderRepository
from retouch.payments.schemas import OrderRead, RefundCreate
from retouch.quota.memberships import shorten_membership
from retouch.quota.service import take_back_credits

#: The Idempotency-Key scope of `POST /v1/admin/orders/{id}/refund`.
REFUND_OPERATION = "admin_orders_refund"


def request_refund(
    *,
    database: Database,
    settings: Settings,
    actor: Principal,
    public_id: str,
    refund: RefundCreate,
    idempotency_key: str | None,
    request_id: str | None,
    clock: Clock = utc_now,
) -> OrderRead:
    """Ask the order's provider to refund it in full (audited `order.refund`); the order is
    `refunding` until the provider's notification confirms. A `refunding` order is asked
    again with its refund number; any other but `paid` is OrderNotRefundable (409)."""

    def ask(claim: KeyClaim | None) -> OrderRead:
        with database.unit_of_work() as uow:
            order = _refundable(uow, actor, public_id, refund, request_id, clock())
            uow.commit()
        provider = payment_provider(settings, order.provider)
        provider.refund(
            RefundToMake(
                order_id=order.public_id,
                refund_no=str(order.refund_no),
                amount_cents=order.amount_cents,
                currency=order.currency,
                reason=refund.reason,
            )
        )
        read = OrderRead.of(order)
        with database.unit_of_work() as uow:
            complete(uow, claim, status=202, body=read.model_dump_json())
            uow.commit()
        logger.info("refund asked", extra={"order": order.public_id})
        return read

    return run_once(
        database=database,
        settings=settings,
        key=IdempotencyKey.sent(
            user_id=actor.user.id, operation=REFUND_OPERATION, header=idempotency_key
        ),
        body={"order_id": public_id, **refund.model_dump(mode="json")},
        run=ask,
        replay=OrderRead.model_validate_json,
        clock=clock,
    )


def _refundable(
    uow: Transaction,
    actor: Principal,
    public_id: str,
    refund: RefundCreate,
    request_id: str | None,
    now: datetime,
) -> Order:
    """The order, locked and moved to `refunding` if it was `paid` (audited then)."""
    orders = uow.repository(OrderRepository)
    order = orders.get(public_id, for_update=True)
    if order is None:
        raise NotFound("No such order")
    if order.status == "paid":
        orders.start_refund(public_id, refund_no=new_public_id("rfd"), now=now)
        _audit(
            uow,
            actor_user_id=actor.user.id,
            action="order.refund",
            order=order,
            request_id=request_id,
            after={"status": "refunding", "reason": refund.reason},
        )
    elif order.status != "refunding":
        raise OrderNotRefundable("Only a paid order can be refunded")
    asked = orders.get(public_id, for_update=True)
    if asked is None:  # pragma: no cover - the row is locked by this transaction
        raise NotFound("No such order")
    return asked


def apply_refund(
    uow: Transaction, provider_name: str, notice: PaymentNotice, now: datetime
) -> None:
    """Apply a verified refund notification in the caller's transaction (see the module):
    once per order; a retry of one already applied changes nothing. A refund nobody asked
    for, of another provider, or of another amount is PaymentMismatch (409)."""
    orders = uow.repository(OrderRepository)
    order = orders.get(notice.order_id, for_update=True)
    if (
        order is None
        or order.provider != provider_name
        or order.status not in ("refunding", "refunded")
        or order.refund_no != notice.refund_no
    ):
        raise PaymentMismatch("No refund of this provider matches the notification")
    if (order.amount_cents, order.currency) != (notice.amount_cents, notice.currency):
        raise PaymentMismatch("The refunded amount differs from the order's")
    if order.status == "refunded":
        return
    shortfall, after = _take_back(uow, order, now)
    orders.mark_refunded(
        order.public_id, refund_txn=notice.transaction_id, shortfall=shortfall, now=now
    )
    _audit(
        uow,
        actor_user_id=None,
        action="order.refunded",
        order=order,
        request_id=None,
        after={"status": "refunded", "refund_shortfall": shortfall, **after},
    )
    logger.info("order refunded", extra={"order": order.public_id, "shortfall": shortfall})


def _take_back(uow: Transaction, order: Order, now: datetime) -> tuple[int, dict[str, object]]:
    """Take the product back; (credits not taken back, what the audit row shows)."""
    product = PRODUCTS[order.product]
    if product.kind == "credits":
        shortfall = take_back_credits(
            uow=uow,
            user_id=order.user_id,
            amount=product.credits,
            ref=order.public_id,
            reason=f"order {order.public_id} refunded: {product.code}",
            clock=lambda: now,
        )
        return shortfall, {"credits": product.credits - shortfall}
    held = shorten_membership(
        uow=uow,
        user_id=order.user_id,
        plan_code=str(product.plan),
        days=product.days,
        clock=lambda: now,
    )
    expires_at = None if held.expires_at is None else held.expires_at.isoformat()
    return 0, {"plan": held.plan.code, "expires_at": expires_at}


def _audit(
    uow: Transaction,
    *,
    actor_user_id: int | None,
    action: str,
    order: Order,
    request_id: str | None,
    after: dict[str, object],
) -> None:
    uow.repository(AuditRepository).add(
        AuditEntry(
            actor_user_id=actor_user_id,
            action=action,
            target_type="order",
            target_id=order.public_id,
            request_id=request_id,
            before={"status": order.status},
            after=after,
        )
    )
