"""Backups (`retouch.backup`): the retention policy, the size of a part, the scratch
database of the verified restore and where the manifests' signing keys are read (a
reference to a secret, never the keys); see docs/operations.md."""

from __future__ import annotations

from pydantic import Field

from retouch.core.settings.base import SettingsGroup
from retouch.core.settings.service import STORE_REFERENCE


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
    backup_orphan_grace_hours: float = Field(
        24,
        ge=1,
        le=720,
        description="parts of a backup that never completed are deleted by the backup job's "
        "retention pass once the run started this long ago (longer than any run lasts)",
    )
    backup_signing_keys_secret: str = Field(
        "env:RETOUCH_SECRET_BACKUP_SIGNING_KEYS",
        pattern=STORE_REFERENCE,
        description="reference to the secret holding the manifests' HMAC keys, a JSON object "
        "key id -> key (32+ bytes each); keep a retired key while backups signed with it are "
        "kept",
    )
    backup_signing_key_id: str = Field(
        "",
        pattern=r"^([A-Za-z0-9._-]{1,64})?$",
        description="the key id new manifests are signed with; empty: the secret's only key",
    )
