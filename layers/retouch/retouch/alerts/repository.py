"""Alert rules and states: port and SQL. Parameterised statements in the caller's unit of
work; nothing here commits. Every state change is conditional on the row's `revision`, so
of two monitor runs acting on the same row only one succeeds."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Protocol

from retouch.alerts.state import AlertState
from retouch.core.db import Row, UnitOfWork
from retouch.core.time import from_db, to_db
from retouch.core.units import sql_adapter


class AlertRepository(Protocol):
    """Versions of the rules, and the state of each rule per subject."""

    def latest_rules(self) -> tuple[int, list[dict[str, Any]], int | None] | None:
        """The version in force: (version, rules, created_by), or None before the seed."""
        ...

    def add_rules(self, *, version: int, rules: list[dict[str, Any]], by: int | None) -> bool:
        """Store a new version; False when that version exists already (a concurrent edit)."""
        ...

    def states(self) -> list[AlertState]:
        """Every state row."""
        ...

    def save_state(self, state: AlertState) -> bool:
        """Insert (revision 0) or update the row if its revision is still `state.revision`;
        the stored revision becomes one more. False when another run changed it first."""
        ...


def _state(row: Row) -> AlertState:
    return AlertState(
        rule_key=row["rule_key"],
        subject=row["subject"],
        status=row["status"],
        since=from_db(row["since"]),
        value=None if row["value"] is None else float(row["value"]),
        fingerprint=row["fingerprint"],
        last_sent_at=_aware(row["last_sent_at"]),
        pending_phase=row["pending_phase"],
        pending=tuple(filter(None, (row["pending"] or "").split(","))),
        claimed_until=_aware(row["claimed_until"]),
        revision=int(row["revision"]),
    )


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else from_db(value)


def _naive(value: datetime | None) -> datetime | None:
    return None if value is None else to_db(value)


@sql_adapter(AlertRepository)
class MySQLAlertRepository:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def latest_rules(self) -> tuple[int, list[dict[str, Any]], int | None] | None:
        row = self._uow.fetch_one(
            "SELECT version, rules, created_by FROM alert_rule_versions "
            "ORDER BY version DESC LIMIT 1"
        )
        if row is None:
            return None
        by = None if row["created_by"] is None else int(row["created_by"])
        return int(row["version"]), json.loads(row["rules"]), by

    def add_rules(self, *, version: int, rules: list[dict[str, Any]], by: int | None) -> bool:
        return bool(
            self._uow.execute(
                "INSERT IGNORE INTO alert_rule_versions (version, rules, created_by) "
                "VALUES (%s, %s, %s)",
                (version, json.dumps(rules), by),
            )
        )

    def states(self) -> list[AlertState]:
        rows = self._uow.fetch_all(
            "SELECT rule_key, subject, status, since, value, fingerprint, last_sent_at, "
            "pending_phase, pending, claimed_until, revision FROM alert_states"
        )
        return [_state(row) for row in rows]

    def save_state(self, state: AlertState) -> bool:
        values = (
            state.status,
            to_db(state.since),
            state.value,
            state.fingerprint,
            _naive(state.last_sent_at),
            state.pending_phase,
            ",".join(state.pending) or None,
            _naive(state.claimed_until),
        )
        if state.revision == 0:
            return bool(
                self._uow.execute(
                    "INSERT IGNORE INTO alert_states (rule_key, subject, status, since, value, "
                    "fingerprint, last_sent_at, pending_phase, pending, claimed_until, "
                    "revision) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 1)",
                    (state.rule_key, state.subject, *values),
                )
            )
        return bool(
            self._uow.execute(
                "UPDATE alert_states SET status = %s, since = %s, value = %s, fingerprint = %s, "
                "last_sent_at = %s, pending_phase = %s, pending = %s, claimed_until = %s, "
                "revision = revision + 1 WHERE rule_key = %s AND subject = %s AND revision = %s",
                (*values, state.rule_key, state.subject, state.revision),
            )
        )
