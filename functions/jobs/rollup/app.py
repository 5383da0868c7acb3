"""RollupFunction (every 5 minutes): recomputes the current and previous hour, day and week of
the rollups the operator views read (retouch.rollups); `{"since", "until"}` backfills."""

from typing import Any

from retouch.core.errortracking import reporting_errors
from retouch.core.metrics import flushing_metrics
from retouch.rollups.handlers import roll_up


@reporting_errors
@flushing_metrics
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """AWS Lambda (EventBridge schedule): app.handler."""
    return dict(roll_up(event))


main_handler = handler  # Tencent SCF (timer trigger): app.main_handler
