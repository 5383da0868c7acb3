"""Restore: load a backup into a named database and prove it against the manifest.

In order, so that a refusal changes nothing:

0. the manifest's signature is checked (`signing`): an altered or unsigned manifest is
   refused before anything is read or connected;
1. the target is checked: a database with any table is refused (`RestoreTargetNotEmpty`)
   unless `replace` is asked for;
2. every part is read and its SHA-256 compared with the manifest's before the target is
   touched: a truncated, tampered or missing part is `BackupCorrupt` naming its table;
3. the target's tables are dropped (with `replace`) and created from the manifest's DDL,
   foreign key checks off for the session (tables and rows come in name order, not in the
   order of their references);
4. each part is decompressed and its lines loaded in multi-row INSERTs of `INSERT_ROWS`
   (pymysql's `executemany`), counted and checksummed as they go: the stored lines against
   the manifest, and their canonical form (`codec.canonical_line`) kept for step 5;
5. every table is read back in primary-key order and the canonical checksum of its rows
   compared with the loaded one: the load is proven by the database, not by the files, and
   whichever server wrote the lines (MariaDB and MySQL space and escape JSON differently).

Memory holds one part (its compressed and decompressed bytes) at a time.
"""

from __future__ import annotations

import zlib
from contextlib import suppress
from dataclasses import dataclass

import pymysql

from retouch.backup import layout, signing, sql
from retouch.backup.codec import (
    TableChecksum,
    canonical_line,
    decode_line,
    decompress,
    encode_row,
    lines,
    part_digest,
)
from retouch.backup.errors import BackupCorrupt, RestoreTargetNotEmpty
from retouch.backup.layout import Manifest, TableEntry
from retouch.core.settings import Settings
from retouch.storage import ObjectNotFound, Storage

INSERT_ROWS = 1_000


@dataclass(frozen=True)
class RestoreReport:
    backup_id: str
    database: str
    tables: int
    rows: int


def _part_bytes(storage: Storage, table: TableEntry, key: str) -> bytes:
    try:
        return storage.get(key)
    except ObjectNotFound:
        raise BackupCorrupt(
            f"table {table.name}: part {key} is missing", table=table.name
        ) from None


def check_parts(storage: Storage, manifest: Manifest) -> None:
    """Every part exists and has the digest the manifest recorded."""
    for table in manifest.tables:
        for part in table.parts:
            if part_digest(_part_bytes(storage, table, part.key)) != part.sha256:
                raise BackupCorrupt(
                    f"table {table.name}: part {part.key} does not match the manifest",
                    table=table.name,
                )


def _prepare_target(connection: sql.Connection, database: str, *, replace: bool) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE IF NOT EXISTS {sql.quote(database)}")
        cursor.execute(f"USE {sql.quote(database)}")
    existing = sql.base_tables(connection)
    if existing and not replace:
        raise RestoreTargetNotEmpty(
            f"database {database} has {len(existing)} tables; restore with replace to overwrite"
        )
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION foreign_key_checks = 0")
        for table in existing:
            cursor.execute(f"DROP TABLE {sql.quote(table)}")


def _fail(table: TableEntry, what: str) -> BackupCorrupt:
    return BackupCorrupt(
        f"table {table.name}: {what} does not match the manifest", table=table.name
    )


def _load_table(connection: sql.Connection, storage: Storage, table: TableEntry) -> TableChecksum:
    """Create and fill `table` from its parts; the canonical checksum of the loaded rows."""
    names = ", ".join(sql.quote(column) for column in table.columns)
    values = ", ".join(["%s"] * len(table.columns))
    insert = f"INSERT INTO {sql.quote(table.name)} ({names}) VALUES ({values})"  # noqa: S608
    stored, loaded = TableChecksum(), TableChecksum()
    with connection.cursor() as cursor:
        cursor.execute(table.ddl)
        for part in table.parts:
            try:
                data = decompress(_part_bytes(storage, table, part.key))
                batch: list[list[object]] = []
                for line in lines(data):
                    stored.add(line)
                    row = decode_line(line)
                    loaded.add(encode_row(row))
                    batch.append(row)
                    if len(batch) >= INSERT_ROWS:
                        cursor.executemany(insert, batch)
                        batch = []
            except (OSError, EOFError, zlib.error, ValueError) as exc:
                raise _fail(table, f"part {part.key}") from exc
            if batch:
                cursor.executemany(insert, batch)
    connection.commit()
    if (stored.rows, stored.digest) != (table.rows, table.checksum):
        raise _fail(table, "the loaded rows")
    return loaded


def table_checksum(connection: sql.Connection, table: TableEntry) -> TableChecksum:
    """Count and checksum of the table as stored, its rows in canonical lines
    (`codec.canonical_line`), in the manifest's column and key order."""
    checksum = TableChecksum()
    for block in sql.stream_blocks(connection, table.name, table.columns, table.primary_key):
        for line in block:
            checksum.add(canonical_line(line))
    return checksum


def compare(
    connection: sql.Connection, manifest: Manifest, loaded: dict[str, TableChecksum]
) -> None:
    """Every table of the manifest, read back from the connection's database, holds the rows
    that were loaded into it (`loaded`: canonical checksums by table); `BackupCorrupt` names
    the first that does not."""
    for table in manifest.tables:
        stored, expected = table_checksum(connection, table), loaded[table.name]
        if (stored.rows, stored.digest) != (expected.rows, expected.digest):
            raise _fail(table, f"the restored table ({stored.rows} rows, {table.rows} expected)")


def restore(
    *,
    settings: Settings,
    storage: Storage,
    backup: str,
    database: str,
    replace: bool = False,
    allow_unsigned: bool = False,
) -> RestoreReport:
    """Restore `backup` (an id or `latest`) into `database` and prove it (module doc)."""
    database = sql.checked_database_name(database)
    manifest = layout.resolve(storage, backup)
    signing.check(manifest, settings, allow_unsigned=allow_unsigned)
    connection = sql.connect(settings)
    try:
        _refuse_if_not_empty(connection, database, replace=replace)
        check_parts(storage, manifest)
        _prepare_target(connection, database, replace=replace)
        loaded = {table.name: _load_table(connection, storage, table) for table in manifest.tables}
        compare(connection, manifest, loaded)
    finally:
        with suppress(pymysql.err.Error):
            connection.close()
    return RestoreReport(manifest.id, database, len(manifest.tables), manifest.rows)


def _refuse_if_not_empty(connection: sql.Connection, database: str, *, replace: bool) -> None:
    """The cheap refusal first, before any part is read or anything created."""
    if replace:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s",
            (database,),
        )
        row = cursor.fetchone()
    if row and int(row["n"]):
        raise RestoreTargetNotEmpty(
            f"database {database} has {row['n']} tables; restore with replace to overwrite"
        )
