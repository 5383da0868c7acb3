"""Alert rules and states in memory, keeping the rules of the SQL (`retouch.alerts.repository`):
a version is written once, a state is inserted once and changed only at its revision."""

from __future__ import annotations

import dataclasses
from typing import Any

from retouch.alerts.state import AlertState


class FakeAlertRepository:
    def __init__(self) -> None:
        self.versions: dict[int, tuple[list[dict[str, Any]], int | None]] = {}
        self.rows: dict[tuple[str, str], AlertState] = {}

    def latest_rules(self) -> tuple[int, list[dict[str, Any]], int | None] | None:
        if not self.versions:
            return None
        version = max(self.versions)
        rules, by = self.versions[version]
        return version, rules, by

    def add_rules(self, *, version: int, rules: list[dict[str, Any]], by: int | None) -> bool:
        if version in self.versions:
            return False
        self.versions[version] = (rules, by)
        return True

    def states(self) -> list[AlertState]:
        return list(self.rows.values())

    def save_state(self, state: AlertState) -> bool:
        key = (state.rule_key, state.subject)
        stored = self.rows.get(key)
        if (stored.revision if stored else 0) != state.revision:
            return False
        self.rows[key] = dataclasses.replace(state, revision=state.revision + 1)
        return True
