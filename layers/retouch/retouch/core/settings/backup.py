"""Backups (`retouch.backup`): the retention policy, the size of a part and the scratch
database of the verified restore; see docs/operations.md."""

from __future__ import annotations

from pydantic import Field

from retouch.core.settings.base import SettingsGroup


class BackupSettings(SettingsGroup):
    """The backup job's policy and the verify job's scratch database."""

    backup_keep_daily: int = Field(
        7, ge=1, le=366, description="backups kept: the newest of each of the last N days"
    )
    backup_keep_weekly: int = Field(
        4, ge=0, le=104, description="backups kept: the newest of each of the last N ISO weeks"
    )
    backup_keep_monthly: int = Field(
        12, ge=0, le=120, description="backups kept: the newest of each of the last N months"
    )
    backup_part_rows: int = Field(
        50_000,
        ge=100,
        le=1_000_000,
        description="rows per backup part object (one compressed object each; memory is "
        "bounded by one part)",
    )
    backup_verify_database: str = Field(
        "retouch_verify",
        pattern=r"^[A-Za-z0-9_]{1,64}$",
        description="scratch database the verify job restores the latest backup into and drops",
    )
