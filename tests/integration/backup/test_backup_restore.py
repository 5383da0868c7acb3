"""Backups against the real MariaDB: round trip, consistency under 50 writers, tampered and
truncated parts, the object store failing mid-backup, and the refusal to overwrite."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pymysql
import pytest

from retouch.backup import layout, signing
from retouch.backup.codec import part_digest
from retouch.backup.dump import run_backup
from retouch.backup.errors import (
    BackupCorrupt,
    BackupNotFound,
    BackupSignatureInvalid,
    RestoreTargetNotEmpty,
)
from retouch.backup.restore import restore
from retouch.core.settings import Settings
from retouch.core.time import utc_now
from retouch.storage import LocalStorage
from tests.conftest import Stack
from tests.integration.backup_support import (
    FailingStorage,
    StorageDown,
    files_under,
    snapshot_rows,
)

pytestmark = pytest.mark.integration

LIVE = "retouch"


def _backup(settings: Settings, storage: LocalStorage) -> layout.Manifest:
    return run_backup(settings=settings, storage=storage, clock=utc_now)


def test_a_backup_restores_to_the_same_rows_in_every_table(
    stack: Stack, settings: Settings, storage: LocalStorage, target: str
) -> None:
    manifest = _backup(settings, storage)

    report = restore(settings=settings, storage=storage, backup="latest", database=target)

    assert report.backup_id == manifest.id
    assert snapshot_rows(stack, target) == snapshot_rows(stack, LIVE)
    assert {table.name for table in manifest.tables} >= {"tasks", "quota_ledger", "users"}
    assert "0001.initial" in " ".join(manifest.schema_version) or manifest.schema_version
    assert storage.get(layout.LATEST_KEY).decode() == manifest.id
    assert layout.read_index(storage) == [manifest.id]


def test_restore_into_a_database_with_tables_is_refused_and_changes_nothing(
    stack: Stack, settings: Settings, storage: LocalStorage
) -> None:
    _backup(settings, storage)
    before = snapshot_rows(stack, LIVE)

    with pytest.raises(RestoreTargetNotEmpty, match="retouch"):
        restore(settings=settings, storage=storage, backup="latest", database=LIVE)

    assert snapshot_rows(stack, LIVE) == before


def test_replace_overwrites_a_database_with_tables(
    stack: Stack, settings: Settings, storage: LocalStorage, target: str
) -> None:
    _backup(settings, storage)
    restore(settings=settings, storage=storage, backup="latest", database=target)
    with _connection(stack, target) as cursor:
        cursor.execute("DELETE FROM audit_logs")
        cursor.execute("CREATE TABLE stray (id INT PRIMARY KEY)")

    restore(settings=settings, storage=storage, backup="latest", database=target, replace=True)

    assert snapshot_rows(stack, target) == snapshot_rows(stack, LIVE)


def _tasks_part(manifest: layout.Manifest) -> layout.Part:
    (table,) = [table for table in manifest.tables if table.name == "tasks"]
    assert table.parts, "the test needs tasks in the database"
    return table.parts[0]


def test_a_truncated_part_is_refused_naming_its_table_before_the_target_exists(
    stack: Stack, settings: Settings, storage: LocalStorage, target: str
) -> None:
    _ensure_tasks(stack)
    part = _tasks_part(_backup(settings, storage))
    data = storage.get(part.key)
    storage.put(part.key, data[: len(data) // 2], "application/gzip")

    with pytest.raises(BackupCorrupt, match="table tasks") as refused:
        restore(settings=settings, storage=storage, backup="latest", database=target)

    assert refused.value.table == "tasks"
    assert target not in _databases(stack)


def test_a_tampered_part_with_a_forged_digest_is_caught_by_the_row_checksum(
    stack: Stack, settings: Settings, storage: LocalStorage, target: str
) -> None:
    _ensure_tasks(stack)
    manifest = _backup(settings, storage)
    part = _tasks_part(manifest)
    lines = gzip.decompress(storage.get(part.key)).splitlines(keepends=True)
    row = json.loads(lines[0])
    row[0] = str(int(row[0]) + 1_000_000)  # the first task's id, moved
    lines[0] = json.dumps(row).encode() + b"\n"
    forged = gzip.compress(b"".join(lines))
    storage.put(part.key, forged, "application/gzip")
    # The attacker also rewrites the part's digest in the manifest.
    raw = json.loads(storage.get(layout.manifest_key(manifest.id)))
    for table in raw["tables"]:
        for entry in table["parts"]:
            if entry["key"] == part.key:
                entry["sha256"] = part_digest(forged)
    storage.put(layout.manifest_key(manifest.id), json.dumps(raw).encode(), "application/json")

    # The manifest's signature no longer matches: refused before anything is read
    with pytest.raises(BackupSignatureInvalid):
        restore(settings=settings, storage=storage, backup=manifest.id, database=target)

    # And one who also held the signing key and signed again is caught by the row checksum
    resigned = layout.Manifest.from_json(json.dumps(raw).encode())
    signing.sign(resigned, settings)
    storage.put(layout.manifest_key(manifest.id), resigned.to_json(), "application/json")
    with pytest.raises(BackupCorrupt, match="table tasks"):
        restore(settings=settings, storage=storage, backup=manifest.id, database=target)


def test_a_missing_part_or_backup_is_refused(
    stack: Stack, settings: Settings, storage: LocalStorage, target: str
) -> None:
    with pytest.raises(BackupNotFound):
        restore(settings=settings, storage=storage, backup="latest", database=target)
    with pytest.raises(BackupNotFound):
        restore(settings=settings, storage=storage, backup="../etc", database=target)
    _ensure_tasks(stack)
    manifest = _backup(settings, storage)
    storage.delete(_tasks_part(manifest).key)

    with pytest.raises(BackupCorrupt, match=r"table tasks: part .* is missing"):
        restore(settings=settings, storage=storage, backup=manifest.id, database=target)


def test_storage_failing_mid_backup_leaves_latest_and_the_bucket_as_they_were(
    stack: Stack, settings: Settings, storage: LocalStorage
) -> None:
    _ensure_tasks(stack)
    first = _backup(settings, storage)
    before = files_under(storage.root)

    with pytest.raises(StorageDown):
        run_backup(
            settings=settings, storage=FailingStorage(storage, puts_allowed=3), clock=utc_now
        )

    assert storage.get(layout.LATEST_KEY).decode() == first.id
    assert layout.read_index(storage) == [first.id]
    # The parts it wrote could not be deleted either (the store is down): they are
    # unreferenced, no manifest among them, and nothing that was there changed.
    left = files_under(storage.root) - before
    assert before <= files_under(storage.root)
    assert left and not any(first.id in name or "manifest" in name for name in left)
    second = _backup(settings, storage)
    assert storage.get(layout.LATEST_KEY).decode() == second.id
    assert layout.read_index(storage) == sorted([first.id, second.id])


def test_a_failed_backup_deletes_its_parts_when_the_store_still_answers_deletes(
    stack: Stack, settings: Settings, storage: LocalStorage
) -> None:
    _ensure_tasks(stack)
    first = _backup(settings, storage)
    before = files_under(storage.root)

    class PutsFail(FailingStorage):
        def delete(self, key: str) -> None:
            self.inner.delete(key)

    with pytest.raises(StorageDown):
        run_backup(settings=settings, storage=PutsFail(storage, puts_allowed=3), clock=utc_now)

    assert files_under(storage.root) == before
    assert storage.get(layout.LATEST_KEY).decode() == first.id


def _databases(stack: Stack) -> set[str]:
    with _connection(stack, None) as cursor:
        cursor.execute("SHOW DATABASES")
        return {row[0] for row in cursor.fetchall()}


@contextmanager
def _connection(stack: Stack, database: str | None) -> Iterator[Any]:
    connection = pymysql.connect(
        unix_socket=str(stack.mariadb.socket_path), user="root", database=database
    )
    try:
        with connection.cursor() as cursor:
            yield cursor
        connection.commit()
    finally:
        connection.close()


def _ensure_tasks(stack: Stack) -> None:
    """A few hundred tasks (several parts of 100), added once per session."""
    from retouch.core.db import get_database
    from scripts.bench.generate_tasks import generate

    with _connection(stack, LIVE) as cursor:
        cursor.execute("SELECT COUNT(*) FROM tasks")
        (count,) = cursor.fetchone()
    if count < 300:
        generate(get_database(), rows=300, user_rows=30, users=5)
