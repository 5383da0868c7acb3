"""BackupFunction (daily): a consistent logical backup of the database to `backups/` in
object storage, then the retention policy (retouch.backup; docs/operations.md)."""

from typing import Any

from retouch.backup.handlers import backup_job
from retouch.core.errortracking import reporting_errors
from retouch.core.metrics import flushing_metrics


@reporting_errors
@flushing_metrics
def handler(_event: dict[str, Any], _context: Any) -> dict[str, Any]:
    """AWS Lambda (EventBridge schedule): app.handler."""
    return backup_job()


main_handler = handler  # Tencent SCF (timer trigger): app.main_handler
