"""Plan, quota and ledger DTOs, and the records the repositories return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from retouch.core.schemas import Schema, StrictRequestSchema

FeatureKey = str

#: Signed ledger amounts: period_grant +n, grant +n, top_up +n (purchased), reserve -n,
#: refund +n, charge 0.
LedgerKind = Literal[
    "period_grant", "grant", "top_up", "reserve", "charge", "refund", "refund_purchase"
]
ReservationStatus = Literal["reserved", "charged", "refunded"]
SettledStatus = Literal["charged", "refunded"]

MAX_PAGE_SIZE = 100


class PlanWrite(StrictRequestSchema):
    """A plan as the seed config and operators define it."""

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name: str = Field(min_length=1, max_length=64)
    monthly_credits: int = Field(ge=0)
    features: list[FeatureKey]
    priority: int = 0
    #: The price as shown to a client ("¥39 / month"); charging is the payment port's.
    price_display: str | None = Field(default=None, min_length=1, max_length=64)
    #: Tasks a user of the plan may have queued or running at once (None: no limit).
    max_concurrent_tasks: int | None = Field(default=None, ge=1, le=1000)
    #: The largest input image, in pixels (width x height), a task may name (None: no limit).
    max_input_pixels: int | None = Field(default=None, ge=1)


class PlanRead(PlanWrite):
    # Built from our own rows, not from an operator's input: the driver's types are accepted.
    model_config = ConfigDict(strict=False)

    #: Edits so far, plus one (the If-Match of the next edit); archived: no new members.
    version: int = 1
    archived: bool = False


class PlanEdit(StrictRequestSchema):
    """`PUT /v1/admin/plans/{code}`: every editable field of the plan (the code stays)."""

    name: str = Field(min_length=1, max_length=64)
    monthly_credits: int = Field(ge=0, le=10_000_000)
    features: list[FeatureKey] = Field(max_length=32)
    priority: int = Field(0, ge=-1000, le=1000)
    price_display: str | None = Field(default=None, min_length=1, max_length=64)
    max_concurrent_tasks: int | None = Field(default=None, ge=1, le=1000)
    max_input_pixels: int | None = Field(default=None, ge=1, le=1_000_000_000)
    archived: bool = False


class PlanAdminRead(Schema):
    """A plan as admins see it: every field, its version and whether it is archived."""

    code: str
    name: str
    monthly_credits: int
    features: list[FeatureKey]
    priority: int
    price_display: str | None
    max_concurrent_tasks: int | None
    max_input_pixels: int | None
    version: int
    archived: bool

    @classmethod
    def of(cls, plan: PlanRead) -> PlanAdminRead:
        return cls.model_validate(plan.model_dump())


class PlanAdminList(Schema):
    """`GET /v1/admin/plans`: every plan, archived ones included, lowest priority first."""

    items: list[PlanAdminRead]


class PlanLimits(Schema):
    """What task creation enforces for a plan's members; null: no limit."""

    max_concurrent_tasks: int | None
    max_input_pixels: int | None


class PlanPublic(Schema):
    """`GET /v1/plans`: one plan as a client shows it."""

    code: str
    name: str
    monthly_credits: int
    features: list[FeatureKey]
    price_display: str | None
    limits: PlanLimits

    @classmethod
    def of(cls, plan: PlanRead) -> PlanPublic:
        return cls(
            code=plan.code,
            name=plan.name,
            monthly_credits=plan.monthly_credits,
            features=plan.features,
            price_display=plan.price_display,
            limits=PlanLimits(
                max_concurrent_tasks=plan.max_concurrent_tasks,
                max_input_pixels=plan.max_input_pixels,
            ),
        )


class PlanList(Schema):
    """`GET /v1/plans`: every plan, cheapest (lowest priority) first."""

    items: list[PlanPublic]


class QuotaRead(Schema):
    """A user's credits: spendable `balance`, `reserved` by unfinished tasks, current plan."""

    balance: int
    reserved: int
    plan: str
    period_end: datetime


class LedgerEntryRead(Schema):
    """One change of the balance as the user sees it (no internal ids or refs)."""

    kind: LedgerKind
    amount: int
    balance_after: int
    reason: str | None
    created_at: datetime


class LedgerPage(Schema):
    """Newest first; pass `next_cursor` back to get the following page (null at the end)."""

    items: list[LedgerEntryRead]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Account:
    user_id: int
    balance: int
    reserved: int
    period_start: datetime
    period_end: datetime
    # Whether a period's start tops the balance up: not until the owner's address is
    # verified (`service.open_period_grants`).
    period_grants: bool = True


@dataclass(frozen=True, slots=True)
class Membership:
    """The plan a user holds now, and when that membership ends (None: open-ended)."""

    plan: PlanRead
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class Reservation:
    task_ref: str
    user_id: int
    amount: int
    status: ReservationStatus


@dataclass(frozen=True, slots=True)
class LedgerRow:
    id: int
    entry: LedgerEntryRead
