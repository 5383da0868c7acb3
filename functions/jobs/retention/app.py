"""RetentionFunction (hourly): deletes rows past their retention, archiving audit rows to
object storage first (retouch.retention, docs/retention.md)."""

from typing import Any

from retouch.core.errortracking import reporting_errors
from retouch.core.metrics import flushing_metrics
from retouch.retention.handlers import run_scheduled_retention


@reporting_errors
@flushing_metrics
def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """AWS Lambda (EventBridge schedule): app.handler."""
    return run_scheduled_retention()


main_handler = handler  # Tencent SCF (timer trigger): app.main_handler
