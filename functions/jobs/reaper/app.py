"""ReaperFunction (every minute): fails tasks past their deadline and returns their credits."""

from typing import Any

from retouch.core.errortracking import reporting_errors
from retouch.core.metrics import flushing_metrics
from retouch.pipeline.handlers import reap_overdue


@reporting_errors
@flushing_metrics
def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """AWS Lambda (EventBridge schedule): app.handler."""
    return reap_overdue()


main_handler = handler  # Tencent SCF (timer trigger): app.main_handler
