"""UploadTriggerFunction: COS (SCF) and S3 (Lambda) object-created events for uploads."""

from typing import Any

from retouch.core.errortracking import reporting_errors
from retouch.core.metrics import flushing_metrics
from retouch.uploads.handlers import handle_object_created


@reporting_errors
@flushing_metrics
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """AWS Lambda: app.handler."""
    return handle_object_created(event)


main_handler = handler  # Tencent SCF: app.main_handler
