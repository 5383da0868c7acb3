"""`/v1/admin/alerts/rules`: the alert rules in force, and an admin's edit of the whole set.

An edit names the version it started from (`version`, as read): it becomes the next version,
or, when another edit got there first, nothing is written and the answer is 409
`ALERT_RULES_STALE`, so no admin overwrites a change they never saw. Each saved edit writes
an `alerts.rules.update` audit row in the same transaction, naming the rules added, changed
and removed. The monitor reads the new version on its next run.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, model_validator

from retouch.alerts.monitor import current_rules
from retouch.alerts.rules import AlertRule, RuleSet
from retouch.alerts.service import save_rules
from retouch.audit.schemas import AuditEntry
from retouch.core.errors import AppError
from retouch.core.identity import Principal
from retouch.core.schemas import RequestSchema, Schema
from retouch.core.units import Transactions


class AlertRulesStale(AppError):
    """The rules moved on since the version the edit started from; nothing was written."""

    code = "ALERT_RULES_STALE"

    def __init__(self, *, version: int, current: int) -> None:
        super().__init__(
            "The alert rules are at version {current}, not {version}; reload them and edit again",
            version=version,
            current=current,
        )


class AlertRulesRead(Schema):
    """The rules in force (version 0 and no rules before the seed)."""

    version: int = Field(description="send it back as `version` to edit these rules")
    rules: list[AlertRule]


class AlertRulesEdit(RequestSchema):
    """`PUT /v1/admin/alerts/rules`: the whole new rule set, and the version it was read at."""

    version: Annotated[int, Field(ge=0, le=2**31, description="the version you edited")]
    rules: Annotated[list[AlertRule], Field(max_length=200)]

    @model_validator(mode="after")
    def _unique_keys(self) -> AlertRulesEdit:
        keys = [rule.key for rule in self.rules]
        if len(set(keys)) != len(keys):
            raise ValueError("Each rule's key must be unique")
        return self


def read_rules(*, database: Transactions) -> AlertRulesRead:
    version, rules = current_rules(database)
    return AlertRulesRead(version=version, rules=rules.rules)


def edit_rules(*, database: Transactions, actor: Principal, edit: AlertRulesEdit) -> AlertRulesRead:
    """Save `edit` as the version after `edit.version` (audited), or raise AlertRulesStale."""
    current, before = current_rules(database)
    if edit.version != current:
        raise AlertRulesStale(version=edit.version, current=current)
    audit = AuditEntry(
        actor_user_id=actor.user.id,
        action="alerts.rules.update",
        target_type="alert_rules",
        target_id=str(current + 1),
        before={"version": current},
        after={"version": current + 1, **_changes(before.by_key(), edit.rules)},
    )
    rules = RuleSet(rules=edit.rules)
    if not save_rules(
        database=database, rules=rules, expected_version=current, by=actor.user.id, audit=audit
    ):
        raise AlertRulesStale(version=edit.version, current=current + 1)
    return AlertRulesRead(version=current + 1, rules=rules.rules)


def _changes(before: dict[str, AlertRule], after: list[AlertRule]) -> dict[str, Any]:
    keys = {rule.key for rule in after}
    return {
        "added": sorted(keys - before.keys()),
        "changed": sorted(r.key for r in after if r.key in before and before[r.key] != r),
        "removed": sorted(before.keys() - keys),
    }
