"""Failures of the quota domain; each maps to a registry code."""

from __future__ import annotations

from retouch.core.errors import AppError, NotFound


class QuotaExceeded(AppError):
    """The balance does not cover the amount to reserve; nothing was reserved."""

    code = "QUOTA_EXCEEDED"

    def __init__(self, *, user_id: int, amount: int, balance: int) -> None:
        super().__init__(
            "{needed} credits are needed; the balance is {balance}",
            extensions={"needed": amount, "balance": max(balance, 0)},
            user_id=user_id,
            needed=amount,
            balance=max(balance, 0),
        )


class QuotaAccountNotFound(NotFound):
    """The user has no quota account (it is opened with the user, by `open_account`)."""

    def __init__(self, *, user_id: int) -> None:
        super().__init__("No quota account", user_id=user_id)


class ReservationNotFound(NotFound):
    """Charge or refund named a task ref that never reserved credits."""

    def __init__(self, *, task_ref: str) -> None:
        super().__init__("No reservation", task_ref=task_ref)


class RefReused(AppError):
    """A ref that already reserved or granted credits came back with another user or amount;
    the first use stands and nothing changed."""

    code = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self, *, ref: str) -> None:
        super().__init__("This reference was used for different credits", ref=ref)


class PlanVersionRequired(AppError):
    """A plan edit sent without `If-Match`: nothing was changed."""

    code = "PRECONDITION_REQUIRED"


class PlanVersionStale(AppError):
    """A plan edit whose `If-Match` names a version that is no longer the plan's: another
    edit came first; nothing was changed."""

    code = "PLAN_VERSION_STALE"


class PlanNotConfigured(RuntimeError):
    """A plan named by the configuration (RETOUCH_DEFAULT_PLAN) is not in `plans`: a deploy
    error, reported to clients as a generic 500."""

    def __init__(self, *, plan_code: str) -> None:
        super().__init__(f"plan {plan_code!r} is not in the plans table (load the seed)")
        self.plan_code = plan_code
