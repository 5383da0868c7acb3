"""The state of one rule for one subject, and how an observation changes it (pure: no I/O).

An alert fires once (phase `firing`), is repeated while it keeps firing once `cooldown_s`
has passed since the last message (`repeat`), and sends `resolved` when the value falls
below the threshold. What a change owes is recorded on the row (`pending_phase`, `pending`
channels) before anything is sent, so a notifier that fails is retried by the next run.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from retouch.alerts.rules import AlertRule
from retouch.notify.messages import Phase

Status = Literal["firing", "ok"]


@dataclass(frozen=True, slots=True)
class AlertState:
    """One row of `alert_states`."""

    rule_key: str
    subject: str
    status: Status
    since: datetime
    value: float | None
    fingerprint: str
    last_sent_at: datetime | None = None
    pending_phase: Phase | None = None
    pending: tuple[str, ...] = ()
    claimed_until: datetime | None = None
    revision: int = 0  # 0: not stored yet


def fingerprint(rule_key: str, subject: str, since: datetime) -> str:
    """Names one firing episode of a rule for a subject (the same across runs and repeats)."""
    return hashlib.sha256(f"{rule_key}\n{subject}\n{since.isoformat()}".encode()).hexdigest()


def decide(
    state: AlertState | None,
    rule: AlertRule,
    *,
    subject: str,
    firing: bool,
    value: float | None,
    now: datetime,
) -> AlertState | None:
    """The new state after an observation, or None when nothing changes."""
    if state is None or state.status == "ok":
        if not firing:
            return None
        return AlertState(
            rule_key=rule.key,
            subject=subject,
            status="firing",
            since=now,
            value=value,
            fingerprint=fingerprint(rule.key, subject, now),
            last_sent_at=state.last_sent_at if state else None,
            pending_phase="firing",
            pending=rule.channels,
            revision=state.revision if state else 0,
        )
    if firing:
        return _still_firing(state, rule, value=value, now=now)
    # Recovered. An episode of which no message went out ends quietly.
    announced = state.last_sent_at is not None and state.last_sent_at >= state.since
    return replace(
        state,
        status="ok",
        since=now,
        value=value,
        pending_phase="resolved" if announced else None,
        pending=rule.channels if announced else (),
        claimed_until=None,
    )


def _still_firing(
    state: AlertState, rule: AlertRule, *, value: float | None, now: datetime
) -> AlertState | None:
    if state.pending_phase is not None:
        return None  # the last message is still owed: no repeat on top of it
    last = state.last_sent_at
    quiet_since = last if last is not None and last >= state.since else state.since
    if now - quiet_since < timedelta(seconds=rule.cooldown_s):
        return None
    return replace(state, value=value, pending_phase="repeat", pending=rule.channels)


def delivered(
    state: AlertState, *, sent: tuple[str, ...], failed: tuple[str, ...], now: datetime
) -> AlertState:
    """The state after a delivery attempt: the failed channels stay owed, the claim ends."""
    return replace(
        state,
        last_sent_at=now if sent else state.last_sent_at,
        pending_phase=state.pending_phase if failed else None,
        pending=failed,
        claimed_until=None,
    )
