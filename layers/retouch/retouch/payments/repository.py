"""Orders and payment notification nonces: ports and SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from retouch.core.db import Row, UnitOfWork
from retouch.core.time import from_db, to_db
from retouch.core.units import sql_adapter

OrderStatus = Literal["created", "paid", "refunding", "refunded"]
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
    refund_no: str | None = None
    refunded_at: datetime | None = None
    refund_shortfall: int | None = None


class OrderRepository(Protocol):
    def add(self, order: Order) -> None: ...

    def get(self, public_id: str, *, for_update: bool = False) -> Order | None: ...

    def owner(self, public_id: str) -> str | None:
        """The public id of the order's user (None: no such order)."""
        ...

    def mark_paid(self, public_id: str, *, transaction_id: str, now: datetime) -> bool:
        """`created` → `paid`; False (nothing changed) when it was paid already."""
        ...

    def paid_with(self, *, provider: str, transaction_id: str) -> str | None:
        """The order the provider's transaction already paid, if any."""
        ...

    def page(
        self, *, user_public_id: str | None, before_id: int | None, limit: int
    ) -> list[tuple[int, Order, str]]:
        """Up to `limit` orders of one user (named by public id) or of everyone, newest
        first, older than the row `before_id`: each with its row id and its user's public
        id."""
        ...

    def start_refund(self, public_id: str, *, refund_no: str, now: datetime) -> bool:
        """`paid` → `refunding` numbered `refund_no`; False when the order was not paid."""
        ...

    def mark_refunded(
        self, public_id: str, *, refund_txn: str, shortfall: int, now: datetime
    ) -> bool:
        """`refunding` → `refunded`; False (nothing changed) when it was refunded already."""
        ...

    def record_nonce(self, *, provider: str, nonce: str, body_sha256: str, now: datetime) -> Seen:
        """Remember a notification's nonce: `new`, `same` (seen with this body), or `other`
        (seen with another body: a replay)."""
        ...


_COLUMNS = (
    "SELECT id, public_id, user_id, product, amount_cents, currency, provider, status, "
    "created_at, paid_at, refund_no, refunded_at, refund_shortfall FROM orders"
)
_SELECT = _COLUMNS + " WHERE public_id = %s"


def _when(value: datetime | None) -> datetime | None:
    return None if value is None else from_db(value)


def _order(row: Row) -> Order:
    shortfall = row["refund_shortfall"]
    return Order(
        public_id=row["public_id"],
        user_id=int(row["user_id"]),
        product=row["product"],
        amount_cents=int(row["amount_cents"]),
        currency=row["currency"],
        provider=row["provider"],
        status=row["status"],
        created_at=from_db(row["created_at"]),
        paid_at=_when(row["paid_at"]),
        refund_no=row["refund_no"],
        refunded_at=_when(row["refunded_at"]),
        refund_shortfall=None if shortfall is None else int(shortfall),
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
        return None if row is None else _order(row)

    def owner(self, public_id: str) -> str | None:
        row = self._uow.fetch_one(
            "SELECT u.public_id FROM orders o JOIN users u ON u.id = o.user_id "
            "WHERE o.public_id = %s",
            (public_id,),
        )
        return None if row is None else str(row["public_id"])

    def page(
        self, *, user_public_id: str | None, before_id: int | None, limit: int
    ) -> list[tuple[int, Order, str]]:
        rows = self._uow.fetch_all(  # uq_users_public_id, then ix_orders_user_id (or the PK)
            "SELECT o.id, o.public_id, o.user_id, o.product, o.amount_cents, o.currency, "
            "o.provider, o.status, o.created_at, o.paid_at, o.refund_no, o.refunded_at, "
            "o.refund_shortfall, u.public_id AS user_public_id FROM orders o "
            "JOIN users u ON u.id = o.user_id WHERE (%s IS NULL OR u.public_id = %s) "
            "AND (%s IS NULL OR o.id < %s) ORDER BY o.id DESC LIMIT %s",
            (user_public_id, user_public_id, before_id, before_id, limit),
        )
        return [(int(row["id"]), _order(row), str(row["user_public_id"])) for row in rows]

    def start_refund(self, public_id: str, *, refund_no: str, now: datetime) -> bool:
        return (
            self._uow.execute(
                "UPDATE orders SET status = 'refunding', refund_no = %s, refund_requested_at = %s "
                "WHERE public_id = %s AND status = 'paid'",
                (refund_no, to_db(now), public_id),
            )
            == 1
        )

    def mark_refunded(
        self, public_id: str, *, refund_txn: str, shortfall: int, now: datetime
    ) -> bool:
        return (
            self._uow.execute(
                "UPDATE orders SET status = 'refunded', refund_txn = %s, refunded_at = %s, "
                "refund_shortfall = %s WHERE public_id = %s AND status = 'refunding'",
                (refund_txn, to_db(now), shortfall, public_id),
            )
            == 1
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
