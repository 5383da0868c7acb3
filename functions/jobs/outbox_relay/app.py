"""OutboxRelayFunction (every minute): publishes step messages a crash left in the outbox."""

from typing import Any

from retouch.core.errortracking import reporting_errors
from retouch.core.metrics import flushing_metrics
from retouch.queue.handlers import relay_outbox


@reporting_errors
@flushing_metrics
def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """AWS Lambda (EventBridge schedule): app.handler."""
    return relay_outbox()


main_handler = handler  # Tencent SCF (timer trigger): app.main_handler
