"""`GET /v1/admin/alerts`: the alert states the monitor keeps (`alerts`, table `alert_states`),
firing first, then the most recent change first. One row per rule and subject, so the table
is as small as the rule set; nothing here changes a state or sends a message."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from retouch.alerts.repository import AlertRepository
from retouch.alerts.state import AlertState
from retouch.core.schemas import RequestSchema, Schema
from retouch.core.units import Transactions


class AlertsQuery(RequestSchema):
    """Only `firing` or `ok` states, at most `limit` of them."""

    status: Literal["firing", "ok"] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 50


class AlertRead(Schema):
    """One rule's state for one subject (a provider, a queue, or '' for the whole service)."""

    rule: str
    subject: str
    status: Literal["firing", "ok"]
    since: datetime
    value: float | None = Field(description="the last value observed against the threshold")
    last_sent_at: datetime | None = Field(description="the last message sent about it")


class AlertList(Schema):
    """The chosen states, firing first."""

    items: list[AlertRead]


def recent_alerts(*, database: Transactions, query: AlertsQuery) -> AlertList:
    """The states of `query`, firing first, newest change first."""
    with database.read_only() as uow:
        states = uow.repository(AlertRepository).states()
    chosen = [state for state in states if query.status in (None, state.status)]
    chosen.sort(key=lambda state: state.since, reverse=True)
    chosen.sort(key=lambda state: state.status != "firing")
    return AlertList(items=[_read(state) for state in chosen[: query.limit]])


def _read(state: AlertState) -> AlertRead:
    return AlertRead(
        rule=state.rule_key,
        subject=state.subject,
        status=state.status,
        since=state.since,
        value=state.value,
        last_sent_at=state.last_sent_at,
    )
