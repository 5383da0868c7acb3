"""Alerts: rules over the service's figures, evaluated every minute by the `monitor` job,
notified to DingTalk, WeCom and email (`retouch.notify`) once, again after a cooldown while
firing, and once more on recovery. See docs/observability.md ("Alerts")."""

from retouch.alerts.inputs import AlertInputs, InputUnavailable, Observation
from retouch.alerts.rules import AlertRule, RuleSet

__all__ = ["AlertInputs", "AlertRule", "InputUnavailable", "Observation", "RuleSet"]
