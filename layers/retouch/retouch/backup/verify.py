"""The verified restore: the latest backup restored into a scratch database, compared with
its manifest, and the scratch dropped.

Restoring is the only proof that a backup can be restored: the restore (`restore.restore`)
checks every part's digest, loads, and recomputes each table's count and checksum from the
loaded rows. Any failure — no backup at all, a missing or altered part, a table that does not
match, a database that refuses — is one outcome, `failed`, with a stable `code` and the
`table` where there is one: logged at error (`backup verify failed`) and counted as
`BackupVerifyFailed`, which the alerting wires to people. The scratch database
(`RETOUCH_BACKUP_VERIFY_DATABASE`) must not be the service's own: it is dropped afterwards.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import datetime
from typing import Any

import pymysql

from retouch.backup import layout, sql
from retouch.backup.errors import BackupError, InvalidDatabaseName
from retouch.backup.metrics import count_verify
from retouch.backup.restore import restore
from retouch.core.logging import logger
from retouch.core.settings import Settings
from retouch.storage import Storage


def _drop_scratch(settings: Settings, database: str) -> None:
    with suppress(pymysql.err.Error, BackupError):
        connection = sql.connect(settings)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {sql.quote(database)}")
        finally:
            connection.close()


def _age_hours(storage: Storage, now: datetime) -> float | None:
    with suppress(BackupError):
        return (now - layout.backup_time(layout.latest_id(storage))).total_seconds() / 3600
    return None


def verify_latest(
    *, settings: Settings, storage: Storage, clock: Callable[[], datetime]
) -> dict[str, Any]:
    """Restore `latest` into the scratch database and report `passed` or `failed`."""
    scratch = settings.backup_verify_database
    age = _age_hours(storage, clock())
    try:
        if scratch == settings.db_name:
            raise InvalidDatabaseName("the verify database is the service's own database")
        report = restore(
            settings=settings, storage=storage, backup="latest", database=scratch, replace=True
        )
    except Exception as exc:  # noqa: BLE001 - every failure is the one outcome the alert reads
        outcome = {
            "outcome": "failed",
            "code": getattr(exc, "code", "BACKUP_VERIFY_ERROR"),
            "table": getattr(exc, "table", None),
            "reason": str(exc),
        }
        logger.error("backup verify failed", extra=outcome)
        count_verify(passed=False, age_hours=age)
        return outcome
    finally:
        if scratch != settings.db_name:
            _drop_scratch(settings, scratch)
    count_verify(passed=True, age_hours=age)
    outcome = {
        "outcome": "passed",
        "backup_id": report.backup_id,
        "tables": report.tables,
        "rows": report.rows,
        "age_hours": None if age is None else round(age, 2),
    }
    logger.info("backup verified", extra=outcome)
    return outcome
