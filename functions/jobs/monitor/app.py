"""MonitorFunction (every minute): evaluates the alert rules and notifies DingTalk, WeCom
and email of what fired, is still firing after its cooldown, or recovered."""

from typing import Any

from retouch.alerts.job import monitor_once
from retouch.core.errortracking import reporting_errors
from retouch.core.metrics import flushing_metrics


@reporting_errors
@flushing_metrics
def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """AWS Lambda (EventBridge schedule): app.handler."""
    return monitor_once()


main_handler = handler  # Tencent SCF (timer trigger): app.main_handler
