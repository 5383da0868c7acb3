"""One run of the `monitor` job: evaluate every rule in force, record what changed, then
deliver what is owed.

Two phases, each change its own short transaction:

1. **Evaluate.** Each enabled rule reads its input (`AlertInputs`) and every subject's state
   moves on (`state.decide`); the new state, with the message it owes, is saved with a
   conditional write, so when two runs overlap only one records a change. An input that
   cannot be read leaves its rules' states as they are and does not stop the others.
2. **Deliver.** Every row that owes a message and is not claimed is claimed (a conditional
   write with `claimed_until`), sent to each owed channel, and saved with the channels that
   failed still owed: the next run retries them. A failing notifier never stops the others
   or the evaluation. A run that dies while sending loses only its claim: after
   RETOUCH_ALERTS_CLAIM_S the next run sends again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from retouch.alerts.inputs import AlertInputs, InputUnavailable
from retouch.alerts.repository import AlertRepository
from retouch.alerts.rules import AlertRule, RuleSet
from retouch.alerts.state import AlertState, decide, delivered
from retouch.core.logging import logger
from retouch.core.units import Transactions
from retouch.notify.messages import AlertMessage, Language, Notifier, NotifierError


@dataclass(frozen=True, slots=True)
class MonitorRun:
    """What a run needs besides the database: its inputs, notifiers and clock reading."""

    inputs: AlertInputs
    notifiers: Mapping[str, Notifier]
    now: datetime
    language: Language = "zh-CN"
    claim_s: int = 120


def current_rules(database: Transactions) -> tuple[int, RuleSet]:
    """The version in force and its rules (version 0, no rules, before the seed)."""
    with database.unit_of_work() as uow:
        latest = uow.repository(AlertRepository).latest_rules()
    if latest is None:
        return 0, RuleSet(rules=[])
    version, rules, _ = latest
    return version, RuleSet.model_validate({"rules": rules})


def run_monitor(database: Transactions, run: MonitorRun) -> dict[str, int]:
    """Evaluate, then deliver; answers counts for the job's log."""
    version, rule_set = current_rules(database)
    rules = rule_set.by_key()
    changed = evaluate(database, run, [r for r in rules.values() if r.enabled])
    sent, failed = deliver(database, run, rules)
    return {"rules_version": version, "changed": changed, "sent": sent, "failed": failed}


def _states(database: Transactions) -> dict[tuple[str, str], AlertState]:
    with database.unit_of_work() as uow:
        return {(s.rule_key, s.subject): s for s in uow.repository(AlertRepository).states()}


def _save(database: Transactions, state: AlertState) -> bool:
    with database.unit_of_work() as uow:
        saved = uow.repository(AlertRepository).save_state(state)
        uow.commit()
    return saved


def evaluate(database: Transactions, run: MonitorRun, rules: list[AlertRule]) -> int:
    """Move every rule's subjects on; returns how many states this run changed."""
    states, changed = _states(database), 0
    for rule in rules:
        try:
            observed = run.inputs.observe(rule.kind, window_s=rule.window_s, now=run.now)
        except InputUnavailable as exc:
            logger.warning("alert input unavailable", extra={"rule": rule.key, "error": str(exc)})
            continue
        subjects = set(observed) | {subject for key, subject in states if key == rule.key}
        for subject in sorted(subjects):
            seen = observed.get(subject)
            value = seen.value if seen else None
            firing = seen is not None and rule.fires(seen.value, seen.samples)
            state = states.get((rule.key, subject))
            new = decide(state, rule, subject=subject, firing=firing, value=value, now=run.now)
            if new is not None and _save(database, new):
                changed += 1
                logger.info(
                    "alert state changed",
                    extra={"rule": rule.key, "subject": subject, "status": new.status},
                )
    return changed


def deliver(
    database: Transactions, run: MonitorRun, rules: Mapping[str, AlertRule]
) -> tuple[int, int]:
    """Claim and send every owed message; returns (messages sent, channel failures)."""
    sent_total = failed_total = 0
    for state in _states(database).values():
        if not state.pending or (state.claimed_until and state.claimed_until > run.now):
            continue
        claim = replace(state, claimed_until=run.now + timedelta(seconds=run.claim_s))
        if not _save(database, claim):
            continue  # another run claimed it first
        claim = replace(claim, revision=claim.revision + 1)
        sent, failed = _send(claim, rules.get(claim.rule_key), run)
        _save(database, delivered(claim, sent=sent, failed=failed, now=run.now))
        sent_total, failed_total = sent_total + len(sent), failed_total + len(failed)
    return sent_total, failed_total


def _send(
    state: AlertState, rule: AlertRule | None, run: MonitorRun
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    message = AlertMessage(
        phase=state.pending_phase or "firing",
        rule=state.rule_key,
        summary=rule.summary(run.language) if rule else state.rule_key,
        subject=state.subject,
        value=state.value,
        threshold=rule.threshold if rule else 0.0,
        severity=rule.severity if rule else "warning",
        since=state.since,
        language=run.language,
    )
    sent: list[str] = []
    failed: list[str] = []
    for channel in state.pending:
        notifier = run.notifiers.get(channel)
        extra = {"rule": state.rule_key, "subject": state.subject, "channel": channel}
        if notifier is None:
            logger.info("alert channel not configured", extra=extra)
            continue
        try:
            notifier.send(message)
        except NotifierError as exc:
            logger.warning("alert not delivered", extra={**extra, "error": str(exc)})
            failed.append(channel)
            continue
        logger.info("alert delivered", extra={**extra, "phase": message.phase})
        sent.append(channel)
    return tuple(sent), tuple(failed)
