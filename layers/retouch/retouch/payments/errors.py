"""Failures of orders and payment notifications; each maps to a registry code."""

from __future__ import annotations

from retouch.core.errors import AppError


class NotificationRejected(AppError):
    """A payment notification whose signature does not verify, whose timestamp is outside
    the window, or whose nonce was already used for another body: nothing is applied."""

    code = "SIGNATURE_INVALID"


class PaymentMismatch(AppError):
    """A verified notification naming no order of this provider, or another amount or
    currency than the order's: nothing is applied."""

    code = "PAYMENT_MISMATCH"


class OrderNotRefundable(AppError):
    """A refund asked for an order that is not paid (still `created`, or refunded already)."""

    code = "ORDER_NOT_REFUNDABLE"
