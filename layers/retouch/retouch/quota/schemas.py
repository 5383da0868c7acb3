"""Plan, quota and ledger DTOs, and the records the repositories return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import ConfigDict, Field

from retouch.core.schemas import Schema, StrictRequestSchema

FeatureKey = str

#: Signed ledger amounts: period_grant +n, grant +n, reserve -n, refund +n, charge 0.
LedgerKind = Literal["period_grant", "grant", "reserve", "charge", "refund"]
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


class PlanRead(PlanWrite):
    # Built from our own rows, not from an operator's input: the driver's types are accepted.
    model_config = ConfigDict(strict=False)


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
