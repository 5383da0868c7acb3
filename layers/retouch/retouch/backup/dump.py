"""The backup: every table of one consistent snapshot, streamed into compressed parts.

One connection reads everything inside `START TRANSACTION WITH CONSISTENT SNAPSHOT` at
REPEATABLE READ: InnoDB serves every table as of that instant, whatever writers commit
meanwhile, and takes no lock that would stop them (a task and its ledger row, committed
together, are both in the copy or both absent). Each table is read in primary-key order with
an unbuffered cursor and cut into part objects of `RETOUCH_BACKUP_PART_ROWS` rows (or about
32 MiB of lines, whichever comes first), each hashed, compressed in memory and written with
the storage port's ordinary `put` by one worker thread while the next part is fetched (zlib
and hashlib release the GIL: the two overlap on two cores).

Part objects rather than a streaming write added to the port: memory is bounded by one part
whatever the table's size, the three adapters (local, S3, COS) stay as they are, a part that
fails to upload fails only the backup, and the restore checks each part's digest before it
loads anything. A snapshot cannot be resumed in a later invocation (a second snapshot would
not be consistent with the first), so a backup is one invocation; at the measured rate
(docs/performance.md) 15 minutes hold tens of millions of rows.

Order of writes: the run's record in `pending.json` (`orphans`), parts, then the manifest,
then the index, then `latest` (`layout`), then the record is dropped. A failure before the
manifest leaves neither index nor `latest` changed, and the parts written so far are deleted
on the way out (as far as the storage answers; what it keeps, the retention pass sweeps).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import suppress
from datetime import datetime

import pymysql

from retouch.backup import layout, orphans, signing, sql
from retouch.backup.codec import COMPRESSION, CONTENT_TYPE, TableChecksum, compress, part_digest
from retouch.backup.layout import Manifest, Part, TableEntry
from retouch.core.logging import logger
from retouch.core.settings import Settings
from retouch.storage import Storage

PART_MAX_BYTES = 32 * 1024 * 1024


class _PartWriter:
    """Collects one table's lines; a full part is hashed, compressed and written by the
    backup's one worker thread while the next part is fetched, at most one part behind."""

    def __init__(
        self, storage: Storage, backup_id: str, entry: TableEntry, rows: int, worker: Executor
    ) -> None:
        self._storage, self._id, self._entry, self._max_rows = storage, backup_id, entry, rows
        self._worker = worker
        self._lines: list[bytes] = []
        self._size = 0
        self._pending: Future[None] | None = None
        self._checksum = TableChecksum()
        self.written: list[str] = []

    def add(self, lines: list[bytes]) -> None:
        while lines:
            room = self._max_rows - len(self._lines)
            taken, lines = lines[:room], lines[room:]
            self._lines.extend(taken)
            self._size += sum(map(len, taken))
            if len(self._lines) >= self._max_rows or self._size >= PART_MAX_BYTES:
                self._submit()

    def finish(self) -> TableChecksum:
        """Write the last part, wait for the worker, and return the table's checksum."""
        if self._lines:
            self._submit()
        self._wait()
        return self._checksum

    def _submit(self) -> None:
        data, rows = b"\n".join(self._lines) + b"\n", len(self._lines)
        self._lines, self._size = [], 0
        self._wait()
        self._pending = self._worker.submit(self._write, data, rows)

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def _write(self, data: bytes, rows: int) -> None:
        """In the worker, one part at a time and in order (the checksum's order)."""
        self._checksum.add_block(data, rows)
        body = compress(data)
        key = layout.part_key(self._id, self._entry.name, len(self._entry.parts))
        self.written.append(key)
        self._storage.put(key, body, CONTENT_TYPE)
        self._entry.parts.append(Part(key, rows, len(body), part_digest(body)))


def _dump_table(
    connection: sql.Connection, writer_for: Callable[[TableEntry], _PartWriter], table: str
) -> TableEntry:
    columns = sql.columns_of(connection, table)
    entry = TableEntry(
        name=table,
        ddl=sql.create_statement(connection, table),
        columns=columns,
        primary_key=sql.primary_key_of(connection, table),
    )
    writer = writer_for(entry)
    for lines in sql.stream_blocks(connection, table, columns, entry.primary_key):
        writer.add(lines)
    checksum = writer.finish()
    entry.rows, entry.checksum = checksum.rows, checksum.digest
    return entry


def _schema_version(connection: sql.Connection, tables: list[str]) -> list[str]:
    if "_yoyo_migration" not in tables:
        return []
    with connection.cursor(pymysql.cursors.Cursor) as cursor:
        cursor.execute("SELECT migration_id FROM _yoyo_migration ORDER BY migration_id")
        return [str(row[0]) for row in cursor.fetchall()]


def _snapshot(connection: sql.Connection) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        cursor.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT")


def run_backup(*, settings: Settings, storage: Storage, clock: Callable[[], datetime]) -> Manifest:
    """Write one complete backup and make it `latest`; return its manifest."""
    started, began = clock(), time.monotonic()
    backup_id = layout.new_backup_id(started)
    writers: list[_PartWriter] = []
    indexed: list[str] = []
    connection = sql.connect(settings)
    try:
        _snapshot(connection)
        tables = sql.base_tables(connection)
        orphans.mark_started(storage, backup_id, tables)
        # Leaving the block waits for the worker: nothing is written after a failure.
        with ThreadPoolExecutor(1, thread_name_prefix="backup-part") as worker:

            def writer_for(entry: TableEntry) -> _PartWriter:
                rows = settings.backup_part_rows
                writers.append(_PartWriter(storage, backup_id, entry, rows, worker))
                return writers[-1]

            manifest = Manifest(
                id=backup_id,
                database=settings.db_name,
                started_at=started.isoformat(),
                schema_version=_schema_version(connection, tables),
                tables=[_dump_table(connection, writer_for, table) for table in tables],
                compression=COMPRESSION,
            )
        connection.rollback()
        manifest.finished_at = clock().isoformat()
        manifest.duration_s = round(time.monotonic() - began, 3)
        manifest.size = sum(part.size for table in manifest.tables for part in table.parts)
        _publish(storage, manifest, indexed, settings)
    except BaseException:
        if not indexed:  # once in the index, the backup is complete: keep its parts
            _discard(storage, backup_id, [key for writer in writers for key in writer.written])
        raise
    finally:
        with suppress(pymysql.err.Error):
            connection.close()
    return manifest


def _publish(storage: Storage, manifest: Manifest, indexed: list[str], settings: Settings) -> None:
    signing.sign(manifest, settings)
    storage.put(layout.manifest_key(manifest.id), manifest.to_json(), "application/json")
    layout.write_index(storage, [*layout.read_index(storage), manifest.id])
    indexed.append(manifest.id)
    storage.put(layout.LATEST_KEY, manifest.id.encode(), "text/plain")
    with suppress(Exception):  # in the index: a record left behind is dropped by the sweep
        orphans.mark_finished(storage, manifest.id)


def _discard(storage: Storage, backup_id: str, keys: list[str]) -> None:
    """Delete what a failed backup wrote, newest first; a storage that is down keeps the
    rest (unreferenced, and a prefix of each table's parts, which `orphans.sweep` deletes
    once the grace has passed)."""
    try:
        for key in reversed(keys):
            storage.delete(key)
        orphans.mark_finished(storage, backup_id)
    except Exception:  # noqa: BLE001 - best effort on the way out of a failure
        logger.warning("backup parts left behind", extra={"backup_id": backup_id})
