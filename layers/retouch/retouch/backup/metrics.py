"""Metrics of the backup, restore and verify jobs (docs/observability.md lists them)."""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit

from retouch.core.metrics import emit

BACKUP_COMPLETED = "BackupCompleted"
BACKUP_FAILED = "BackupFailed"
BACKUP_ROWS = "BackupRows"
BACKUP_BYTES = "BackupBytes"
BACKUP_DURATION = "BackupDuration"
BACKUP_VERIFIED = "BackupVerified"
BACKUP_VERIFY_FAILED = "BackupVerifyFailed"
BACKUP_AGE = "BackupAgeHours"


def count_backup(*, rows: int, size: int, duration_s: float) -> None:
    emit(BACKUP_COMPLETED, 1)
    emit(BACKUP_ROWS, rows)
    emit(BACKUP_BYTES, size, unit=MetricUnit.Bytes)
    emit(BACKUP_DURATION, duration_s, unit=MetricUnit.Seconds)


def count_backup_failed() -> None:
    emit(BACKUP_FAILED, 1)


def count_verify(*, passed: bool, age_hours: float | None) -> None:
    """One verified restore: `BackupVerified` or `BackupVerifyFailed` (the alert's metric),
    and the verified backup's age at the time (a backup that stopped being made shows here)."""
    emit(BACKUP_VERIFIED if passed else BACKUP_VERIFY_FAILED, 1)
    if age_hours is not None:
        emit(BACKUP_AGE, round(age_hours, 2), unit=MetricUnit.Count)
