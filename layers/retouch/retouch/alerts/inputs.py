"""`AlertInputs`: what the rules observe, by kind, as {subject: Observation}.

The live implementation (`live.py`) reads what exists: the local metrics sink for the HTTP
figures and the backup job's failures, provider health and breakers in Redis, the queues'
depths, bounded SQL over recent tasks, steps, the outbox and the credit ledger, and a ping
of MySQL and Redis. On Lambda the HTTP and backup figures are EMF metrics, read from
CloudWatch (`cloudwatch.py`) through `CombinedInputs`; the other kinds stay live.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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


class CombinedInputs:
    """`cloud` answers the kinds in `kinds`, `rest` every other kind (on AWS: CloudWatch for
    the HTTP and backup figures, the live inputs for the database, Redis and queues)."""

    def __init__(self, cloud: AlertInputs, kinds: frozenset[str], rest: AlertInputs) -> None:
        self._cloud, self._kinds, self._rest = cloud, kinds, rest

    def observe(self, kind: RuleKind, *, window_s: int, now: datetime) -> dict[str, Observation]:
        source = self._cloud if kind in self._kinds else self._rest
        return source.observe(kind, window_s=window_s, now=now)


Reader = Callable[[int, datetime], dict[str, Observation]]


def read_figure(
    source: str,
    readers: Mapping[str, Reader],
    failures: tuple[type[Exception], ...],
    kind: RuleKind,
    *,
    window_s: int,
    now: datetime,
) -> dict[str, Observation]:
    """`readers[kind]` over the window; a kind `source` does not answer, or a call that
    fails with one of `failures`, is InputUnavailable."""
    reader = readers.get(kind)
    if reader is None:
        raise InputUnavailable(f"{kind}: not a {source} figure")
    try:
        return reader(window_s, now)
    except failures as exc:
        raise InputUnavailable(f"{kind}: {source} {type(exc).__name__}") from None
