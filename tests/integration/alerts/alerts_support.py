"""What the alert tests share: a clean slate of alert states with only the given rules in
force (the next version of the rule set)."""

from __future__ import annotations

from retouch.alerts.monitor import current_rules
from retouch.alerts.rules import AlertRule, RuleSet
from retouch.alerts.service import save_rules
from retouch.core.db import get_database


def only_rules(*rules: AlertRule) -> None:
    """Forget every alert state and put `rules` in force."""
    database = get_database()
    with database.unit_of_work() as uow:
        uow.execute("DELETE FROM alert_states")
        uow.commit()
    version, _ = current_rules(database)
    assert save_rules(
        database=database, rules=RuleSet(rules=list(rules)), expected_version=version, by=1
    )
