"""Orders and payment notification nonces: ports and SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from retouch.core.db import UnitOfWork
from retouch.core.time import from_db, to_db
from retouch.core.units import sql_adapter

OrderStatus = Literal["created", "paid"]
Seen = Literal["new", "same", "other"]


@dataclass(frozen=True, slots=True)
class Order:
    public_id: str
    user_id: int
    product: str
    amount_cents: int
    currency: str
    provider: str
    status: OrderStatus
    created_at: datetime
    paid_at: datetime | None


class OrderRepository(Protocol):
    def add(self, order: Order) -> None: ...

    def get(self, public_id: str, *, for_update: bool = False) -> Order | None: ...

    def mark_paid(self, public_id: str, *, transaction_id: str, now: datetime) -> bool:
        """`created` → `paid`; False (nothing changed) when it was paid already."""
        ...

    def paid_with(self, *, provider: str, transaction_id: str) -> str | None:
        """The order the provider's transaction already paid, if any."""
        ...

    def record_nonce(self, *, provider: str, nonce: str, body_sha256: str, now: datetime) -> Seen:
        """Remember a notification's nonce: `new`, `same` (seen with this body), or `other`
        (seen with another body: a replay)."""
        ...


_SELECT = (
    "SELECT public_id, user_id, product, amount_cents, currency, provider, status, created_at, "
    "paid_at FROM orders WHERE public_id = %s"
)


@sql_adapter(OrderRepository)
class MySQLOrderRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def add(self, order: Order) -> None:
        self._uow.execute(
            "INSERT INTO orders (public_id, user_id, product, amount_cents, currency, provider, "
            "status, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                order.public_id,
                order.user_id,
                order.product,
                order.amount_cents,
                order.currency,
                order.provider,
                order.status,
                to_db(order.created_at),
            ),
        )

    def get(self, public_id: str, *, for_update: bool = False) -> Order | None:
        row = self._uow.fetch_one(_SELECT + (" FOR UPDATE" if for_update else ""), (public_id,))
        if row is None:
            return None
        paid_at = row["paid_at"]
        return Order(
            public_id=row["public_id"],
            user_id=int(row["user_id"]),
            product=row["product"],
            amount_cents=int(row["amount_cents"]),
            currency=row["currency"],
            provider=row["provider"],
            status=row["status"],
            created_at=from_db(row["created_at"]),
            paid_at=None if paid_at is None else from_db(paid_at),
        )

    def mark_paid(self, public_id: str, *, transaction_id: str, now: datetime) -> bool:
        return (
            self._uow.execute(
                "UPDATE orders SET status = 'paid', provider_txn = %s, paid_at = %s "
                "WHERE public_id = %s AND status = 'created'",
                (transaction_id, to_db(now), public_id),
            )
            == 1
        )

    def paid_with(self, *, provider: str, transaction_id: str) -> str | None:
        row = self._uow.fetch_one(  # uq_orders_provider_txn
            "SELECT public_id FROM orders WHERE provider = %s AND provider_txn = %s",
            (provider, transaction_id),
        )
        return None if row is None else str(row["public_id"])

    def record_nonce(self, *, provider: str, nonce: str, body_sha256: str, now: datetime) -> Seen:
        # A no-op update on a duplicate reports 0 affected rows (FOUND_ROWS is off).
        added = self._uow.execute(
            "INSERT INTO payment_notifications (provider, nonce, body_sha256, received_at) "
            "VALUES (%s, %s, %s, %s) ON DUPLICATE KEY UPDATE nonce = nonce",
            (provider, nonce, body_sha256, to_db(now)),
        )
        if added == 1:
            return "new"
        row = self._uow.fetch_one(
            "SELECT body_sha256 FROM payment_notifications WHERE provider = %s AND nonce = %s "
            "FOR UPDATE",
            (provider, nonce),
        )
        return "same" if row is not None and row["body_sha256"] == body_sha256 else "other"
