"""Which backups the policy keeps: the newest of each of the last `daily` days, `weekly` ISO
weeks and `monthly` months that have a backup (a grandfather-father-son rotation), and
always the newest.

Buckets are counted among backups that exist, not on the calendar: a week without backups
(the job was down) does not use up a weekly slot, so the policy never keeps fewer backups
because some runs failed. The job deletes only after its own backup completed, whole backups
only, and each one leaves the index before its objects go: the index never names a backup
that is half deleted.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime

from retouch.backup import layout
from retouch.backup.errors import BackupError
from retouch.core.logging import logger
from retouch.core.settings import Settings
from retouch.storage import Storage


@dataclass(frozen=True)
class Policy:
    daily: int
    weekly: int
    monthly: int

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(
            settings.backup_keep_daily, settings.backup_keep_weekly, settings.backup_keep_monthly
        )


def _newest_per_bucket(
    newest_first: list[tuple[datetime, str]], bucket: Callable[[datetime], Hashable], count: int
) -> set[str]:
    kept: set[str] = set()
    seen: set[Hashable] = set()
    for moment, backup_id in newest_first:
        key = bucket(moment)
        if key in seen:
            continue
        if len(seen) == count:
            break
        seen.add(key)
        kept.add(backup_id)
    return kept


def kept(backup_ids: list[str], policy: Policy) -> set[str]:
    """The ids of `backup_ids` the policy keeps."""
    newest_first = sorted(((layout.backup_time(i), i) for i in backup_ids), reverse=True)
    if not newest_first:
        return set()
    return (
        {newest_first[0][1]}
        | _newest_per_bucket(newest_first, lambda moment: moment.date(), policy.daily)
        | _newest_per_bucket(newest_first, lambda moment: moment.isocalendar()[:2], policy.weekly)
        | _newest_per_bucket(
            newest_first, lambda moment: (moment.year, moment.month), policy.monthly
        )
    )


def apply_retention(storage: Storage, policy: Policy) -> list[str]:
    """Delete the backups of the index the policy does not keep; return their ids."""
    index = layout.read_index(storage)
    keep = kept(index, policy)
    dropped = [backup_id for backup_id in index if backup_id not in keep]
    if not dropped:
        return []
    layout.write_index(storage, [backup_id for backup_id in index if backup_id in keep])
    for backup_id in dropped:
        _delete_backup(storage, backup_id)
    return dropped


def _delete_backup(storage: Storage, backup_id: str) -> None:
    try:
        manifest = layout.read_manifest(storage, backup_id)
    except BackupError:
        logger.warning("backup without a readable manifest", extra={"backup_id": backup_id})
        return
    for table in manifest.tables:
        for part in table.parts:
            storage.delete(part.key)
    storage.delete(layout.manifest_key(backup_id))
