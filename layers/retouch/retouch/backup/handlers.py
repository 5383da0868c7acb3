"""The jobs: the daily backup with its retention, the verified restore, and the restore a
person starts with an event (`functions/jobs/backup`, `backup_verify`, `restore`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Any

from retouch.backup import orphans
from retouch.backup.dump import run_backup
from retouch.backup.errors import BackupError
from retouch.backup.metrics import count_backup, count_backup_failed
from retouch.backup.restore import restore
from retouch.backup.retention import Policy, apply_retention
from retouch.backup.verify import verify_latest
from retouch.core.logging import logger
from retouch.core.settings import get_settings
from retouch.core.time import Clock, utc_now
from retouch.storage.factory import get_storage


def backup_job(*, clock: Clock = utc_now) -> dict[str, Any]:
    """Back up, then apply the retention policy and sweep the parts of runs that crashed
    (`orphans`). A failed backup is logged at error, counted
    (`BackupFailed`) and raised: the invocation fails, `latest` still names the previous
    backup, and the next schedule tries again. Retention runs only after a complete backup."""
    settings, storage = get_settings(), get_storage()
    try:
        manifest = run_backup(settings=settings, storage=storage, clock=clock)
    except Exception as exc:
        logger.error("backup failed", extra={"error": type(exc).__name__, "reason": str(exc)})
        count_backup_failed()
        raise
    count_backup(rows=manifest.rows, size=manifest.size, duration_s=manifest.duration_s)
    deleted = apply_retention(storage, Policy.from_settings(settings))
    swept = orphans.sweep(
        storage, now=clock(), grace=timedelta(hours=settings.backup_orphan_grace_hours)
    )
    outcome = {
        "outcome": "completed",
        "backup_id": manifest.id,
        "tables": len(manifest.tables),
        "rows": manifest.rows,
        "bytes": manifest.size,
        "duration_s": manifest.duration_s,
        "deleted": deleted,
        "orphans_swept": swept,
    }
    logger.info("backup completed", extra=outcome)
    return outcome


def verify_job(*, clock: Clock = utc_now) -> dict[str, Any]:
    return verify_latest(settings=get_settings(), storage=get_storage(), clock=clock)


def restore_job(event: dict[str, Any]) -> dict[str, Any]:
    """`{"backup": "latest" | id, "database": name, "replace": false, "allow_unsigned": false}`
    → `restored`, or
    `refused` with the error's stable code (and table) and nothing else changed."""
    backup, database, replace = event.get("backup"), event.get("database"), event.get("replace")
    allow_unsigned = event.get("allow_unsigned")
    if (
        not isinstance(backup, str)
        or not isinstance(database, str)
        or not isinstance(replace, (bool, type(None)))
        or not isinstance(allow_unsigned, (bool, type(None)))
        or set(event) - {"backup", "database", "replace", "allow_unsigned"}
    ):
        return {"outcome": "refused", "code": "INVALID_EVENT", "reason": _EVENT_SHAPE}
    try:
        report = restore(
            settings=get_settings(),
            storage=get_storage(),
            backup=backup,
            database=database,
            replace=bool(replace),
            allow_unsigned=bool(allow_unsigned),
        )
    except BackupError as exc:
        outcome = {"outcome": "refused", "code": exc.code, "table": exc.table, "reason": str(exc)}
        logger.error("restore refused", extra=outcome)
        return outcome
    outcome = {"outcome": "restored", **asdict(report)}
    logger.info("restore completed", extra=outcome)
    return outcome


_EVENT_SHAPE = (
    'expected {"backup": "latest" or an id, "database": name, "replace": bool, '
    '"allow_unsigned": bool}'
)
