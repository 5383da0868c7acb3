"""PlanExpiryFunction (hourly): ends memberships whose expiry passed, audited and counted
(retouch.users.expiry, docs/accounts-plans.md)."""

from typing import Any

from retouch.core.metrics import flushing_metrics
from retouch.users.expiry import run_scheduled_expiry


@flushing_metrics
def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """AWS Lambda (EventBridge schedule): app.handler."""
    return dict(run_scheduled_expiry())


main_handler = handler  # Tencent SCF (timer trigger): app.main_handler
