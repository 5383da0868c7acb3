"""BackupVerifyFunction (daily, after the backup): restores the latest backup into the
scratch database, compares it with the manifest and drops it; outcome `passed` or `failed`
(log line at error and `BackupVerifyFailed`).

Invoked directly with `{"backup": "latest" | id, "database": name, "replace": false}`, it is
the cloud's restore instead (docs/operations.md, "How to restore")."""

from typing import Any

from retouch.backup.handlers import restore_job, verify_job
from retouch.core.errortracking import reporting_errors
from retouch.core.metrics import flushing_metrics


@reporting_errors
@flushing_metrics
def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """AWS Lambda (EventBridge schedule, or a direct invoke to restore): app.handler."""
    if isinstance(event, dict) and "database" in event:
        return restore_job(event)
    return verify_job()


main_handler = handler  # Tencent SCF (timer trigger, or a direct invoke): app.main_handler
