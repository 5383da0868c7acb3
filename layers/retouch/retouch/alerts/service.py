"""Changing the rules: the seed at deploy time, and admins at run time. Each change is a new
version; the highest is in force, older ones stay for the record."""

from __future__ import annotations

from retouch.alerts.repository import AlertRepository
from retouch.alerts.rules import RuleSet
from retouch.audit.repository import AuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.core.units import Transactions


def load_alert_seed(*, database: Transactions, seed: RuleSet) -> int:
    """Write the seed as the next version unless the rules in force are the seed's already or
    an admin has edited them since (their edit wins over a redeploy). Returns how many rules
    the seed holds."""
    rules = seed.model_dump(mode="json")["rules"]
    with database.unit_of_work() as uow:
        repository = uow.repository(AlertRepository)
        latest = repository.latest_rules()
        if latest is None or (latest[2] is None and latest[1] != rules):
            repository.add_rules(version=(latest[0] if latest else 0) + 1, rules=rules, by=None)
            uow.commit()
    return len(rules)


def save_rules(
    *,
    database: Transactions,
    rules: RuleSet,
    expected_version: int,
    by: int,
    audit: AuditEntry | None = None,
) -> bool:
    """An admin's edit: the next version after `expected_version`, and its `audit` row in the
    same transaction; False (nothing written) when another edit took that version first (the
    caller answers ALERT_RULES_STALE and the admin reloads)."""
    with database.unit_of_work() as uow:
        saved = uow.repository(AlertRepository).add_rules(
            version=expected_version + 1, rules=rules.model_dump(mode="json")["rules"], by=by
        )
        if saved and audit is not None:
            uow.repository(AuditRepository).add(audit)
        uow.commit()
    return saved
