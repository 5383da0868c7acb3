"""Metrics of the queue package: the outbox's backlog."""

from __future__ import annotations

from retouch.core.metrics import emit

#: Unpublished outbox messages older than the relay's minimum age, after a relay run.
OUTBOX_BACKLOG = "OutboxBacklog"


def gauge_outbox_backlog(backlog: int) -> None:
    """The relay ran and left `backlog` messages unpublished: `OutboxBacklog`, every run
    (a zero too, so the alarm sees data while the relay runs)."""
    emit(OUTBOX_BACKLOG, backlog)
