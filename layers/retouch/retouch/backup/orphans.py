"""Parts of a backup that never completed: found without a listing, deleted after a grace.

A run records itself in `backups/pending.json` (its id and tables) before its first part and
leaves it after `latest`. A run that crashed (the invocation killed, the store gone between
parts) stays there; its parts are unreferenced, since nothing reads a backup outside the
index. The backup job's retention pass (`sweep`) deletes them once the run started more than
`RETOUCH_BACKUP_ORPHAN_GRACE_HOURS` ago (a run still in progress is never touched): the
storage port has no listing, so each table's parts are found by key, numbered from 0 in the
order they were written, until the first that does not exist (a failed run deletes its own
newest first, so what it leaves is always such a prefix). A run that reached the index is
complete: its record is dropped and nothing deleted.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from retouch.backup import layout
from retouch.core.logging import logger
from retouch.storage import ObjectNotFound, Storage

PENDING_KEY = f"{layout.PREFIX}/pending.json"


def pending_runs(storage: Storage) -> dict[str, list[str]]:
    """The runs recorded and not yet finished: id → tables."""
    try:
        data = storage.get(PENDING_KEY)
    except ObjectNotFound:
        return {}
    runs: dict[str, list[str]] = json.loads(data)["runs"]
    return runs


def _write(storage: Storage, runs: dict[str, list[str]]) -> None:
    body = json.dumps({"runs": dict(sorted(runs.items()))}).encode()
    storage.put(PENDING_KEY, body, "application/json")


def mark_started(storage: Storage, backup_id: str, tables: list[str]) -> None:
    """Record a run before it writes its first part."""
    _write(storage, {**pending_runs(storage), backup_id: tables})


def mark_finished(storage: Storage, backup_id: str) -> None:
    """The run is in the index, or its parts are deleted: forget it."""
    runs = pending_runs(storage)
    if runs.pop(backup_id, None) is not None:
        _write(storage, runs)


def _delete_parts(storage: Storage, backup_id: str, tables: list[str]) -> int:
    deleted = 0
    for table in tables:
        number = 0
        while storage.head(key := layout.part_key(backup_id, table, number)) is not None:
            storage.delete(key)
            deleted, number = deleted + 1, number + 1
    return deleted


def sweep(storage: Storage, *, now: datetime, grace: timedelta) -> list[str]:
    """Delete the parts of every recorded run older than `grace` that never reached the
    index; return the ids of the runs swept."""
    runs = pending_runs(storage)
    indexed = set(layout.read_index(storage))
    swept: list[str] = []
    for backup_id, tables in sorted(runs.items()):
        if backup_id not in indexed and now - layout.backup_time(backup_id) < grace:
            continue
        if backup_id not in indexed:
            parts = _delete_parts(storage, backup_id, tables)
            logger.warning(
                "orphan backup parts deleted", extra={"backup_id": backup_id, "parts": parts}
            )
            swept.append(backup_id)
        del runs[backup_id]
        _write(storage, runs)
    return swept
