"""`AlertInputs`: what the rules observe, by kind, as {subject: Observation}.

The live implementation (`live.py`) reads what exists: the local metrics sink for the HTTP
figures and the backup job's failures, provider health and breakers in Redis, the queues'
dead letters, bounded SQL over recent tasks, steps, the outbox and the credit ledger, and a
ping of MySQL and Redis. Rollup tables plug in later as another implementation of the same
port, kind by kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from retouch.alerts.rules import RuleKind


@dataclass(frozen=True, slots=True)
class Observation:
    """A value for one subject, and how many observations it rests on."""

    value: float | None
    samples: int = 1


class InputUnavailable(Exception):
    """The input of a kind could not be read this run (its store failed): the rules of that
    kind keep their state rather than recover on a figure nobody saw."""


class AlertInputs(Protocol):
    """Observations over the last `window_s` before `now`."""

    def observe(self, kind: RuleKind, *, window_s: int, now: datetime) -> dict[str, Observation]:
        """{subject: observation}; a subject absent from the answer is not firing.
        Raises `InputUnavailable` when the input cannot be read."""
        ...
