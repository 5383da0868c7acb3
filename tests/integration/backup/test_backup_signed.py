"""Signed manifests and orphan parts against the real MariaDB: a manifest whose row count or
checksum was altered in the bucket is refused by the restore and reported by the verify job,
nothing restored; an unsigned manifest (the first format) is refused unless explicitly
allowed; the parts of a run that crashed are swept by the backup job's retention pass once
the grace has passed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from retouch.backup import layout, orphans
from retouch.backup.dump import run_backup
from retouch.backup.errors import BackupSignatureInvalid, BackupUnsigned
from retouch.backup.handlers import backup_job
from retouch.backup.restore import restore
from retouch.backup.verify import verify_latest
from retouch.core.settings import Settings, get_settings
from retouch.core.time import utc_now
from retouch.storage import LocalStorage
from tests.conftest import Stack
from tests.integration.backup_support import (
    FailingStorage,
    StorageDown,
    connect,
    files_under,
    snapshot_rows,
)

pytestmark = pytest.mark.integration


def _edit_manifest(storage: LocalStorage, backup_id: str, edit: Callable[[Any], None]) -> None:
    key = layout.manifest_key(backup_id)
    raw = json.loads(storage.get(key))
    edit(raw)
    storage.put(key, json.dumps(raw).encode(), "application/json")


def _tasks(raw: Any) -> Any:
    return next(table for table in raw["tables"] if table["name"] == "tasks")


def _one_row_more(raw: Any) -> None:
    _tasks(raw)["rows"] += 1


def _checksum_of_nothing(raw: Any) -> None:
    _tasks(raw)["checksum"] = "sha256:" + "0" * 64


@pytest.mark.parametrize("tamper", [_one_row_more, _checksum_of_nothing])
def test_a_manifest_altered_in_the_bucket_is_refused_and_reported(
    stack: Stack,
    settings: Settings,
    storage: LocalStorage,
    target: str,
    tamper: Callable[[Any], None],
) -> None:
    # GIVEN a backup whose manifest someone edited (the parts untouched)
    manifest = run_backup(settings=settings, storage=storage, clock=utc_now)
    _edit_manifest(storage, manifest.id, tamper)

    # WHEN it is restored, THEN the restore refuses before creating anything
    with pytest.raises(BackupSignatureInvalid, match=f"backup {manifest.id}: .*signature"):
        restore(settings=settings, storage=storage, backup="latest", database=target)
    assert target not in _databases(stack)

    # AND the verify job reports it with its stable code
    outcome = verify_latest(settings=settings, storage=storage, clock=utc_now)
    assert (outcome["outcome"], outcome["code"]) == ("failed", "BACKUP_SIGNATURE_INVALID")


def test_an_unsigned_manifest_is_refused_unless_explicitly_allowed(
    stack: Stack, settings: Settings, storage: LocalStorage, target: str
) -> None:
    # GIVEN a backup whose manifest is of the first, unsigned format
    manifest = run_backup(settings=settings, storage=storage, clock=utc_now)

    def unsigned(raw: Any) -> None:
        raw["format"] = 1
        del raw["key_id"], raw["signature"]

    _edit_manifest(storage, manifest.id, unsigned)

    # WHEN restored as usual, THEN it is refused, naming the flag
    with pytest.raises(BackupUnsigned, match="allow-unsigned"):
        restore(settings=settings, storage=storage, backup=manifest.id, database=target)
    assert target not in _databases(stack)

    # AND with the flag it restores, proven as ever
    restore(
        settings=settings,
        storage=storage,
        backup=manifest.id,
        database=target,
        allow_unsigned=True,
    )
    assert snapshot_rows(stack, target) == snapshot_rows(stack, "retouch")


def test_a_crashed_runs_parts_are_swept_after_the_grace(
    stack: Stack, settings: Settings, storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a run that wrote some parts and then lost the store (nothing could be deleted)
    first = run_backup(settings=settings, storage=storage, clock=utc_now)
    before = files_under(storage.root)
    with pytest.raises(StorageDown):
        run_backup(
            settings=settings, storage=FailingStorage(storage, puts_allowed=4), clock=utc_now
        )
    [crashed] = orphans.pending_runs(storage)
    leftovers = {name for name in files_under(storage.root) - before if crashed in name}
    assert leftovers

    # WHEN the next backup's retention pass runs within the grace, THEN they stay
    grace = timedelta(hours=settings.backup_orphan_grace_hours)
    assert orphans.sweep(storage, now=utc_now(), grace=grace) == []
    assert leftovers <= files_under(storage.root)

    # AND the backup job run once the grace has passed deletes them, and nothing else
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(storage.root))
    get_settings.cache_clear()
    later = utc_now() + grace + timedelta(minutes=1)
    outcome = backup_job(clock=lambda: later)
    assert outcome["orphans_swept"] == [crashed]
    assert not any(crashed in name for name in files_under(storage.root))
    assert {name for name in before if "pending" not in name} <= files_under(storage.root)
    assert orphans.pending_runs(storage) == {}
    assert layout.read_index(storage) == sorted([first.id, outcome["backup_id"]])


def _databases(stack: Stack) -> set[str]:
    connection = connect(stack, "retouch")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW DATABASES")
            return {row[0] for row in cursor.fetchall()}
    finally:
        connection.close()
