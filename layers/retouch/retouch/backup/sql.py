"""The backup's own connection and the catalogue queries dump and restore share.

A backup or restore holds one connection of its own for minutes (a `Database` of its own,
so the process's request connection is untouched) and reads with an unbuffered cursor
(`SSCursor`): rows arrive as they are fetched, so memory holds one batch, not the table.
The session is set to UTC (TIMESTAMP values are read and written unconverted on both sides)
and given long network timeouts (the server waits while a part is compressed and uploaded).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, TypeAlias

import pymysql
import pymysql.cursors

from retouch.backup.codec import encode_row
from retouch.backup.errors import InvalidDatabaseName
from retouch.core.db import Database
from retouch.core.settings import Settings

Connection: TypeAlias = "pymysql.connections.Connection[Any]"
FETCH_ROWS = 2_000
_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$", re.ASCII)
_SESSION = (
    "SET SESSION time_zone = '+00:00', SESSION net_write_timeout = 600, "
    "SESSION net_read_timeout = 600"
)


def connect(settings: Settings) -> Connection:
    """A connection of its own, to `RETOUCH_DB_NAME`, with the backup session settings.

    It reads values as the server's own text (no decoders: integers, decimals, dates and
    times stay the strings MySQL sent; binary columns stay bytes). MySQL parses each back
    to the same value on INSERT, and the checksum is taken over that text on both sides;
    pymysql's conversions to Python types were most of the time of a backup (measured:
    2.5× the rows per second fetched, 5× encoded, docs/performance.md)."""
    connection = Database(settings).connection()
    connection.decoders = {}
    with connection.cursor() as cursor:
        cursor.execute(_SESSION)
    return connection


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def checked_database_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise InvalidDatabaseName(f"database name {name!r} is not [A-Za-z0-9_]{{1,64}}")
    return name


def base_tables(connection: Connection) -> list[str]:
    """The current database's tables (views excluded), by name."""
    with connection.cursor(pymysql.cursors.Cursor) as cursor:
        cursor.execute("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'")
        return sorted(str(row[0]) for row in cursor.fetchall())


def columns_of(connection: Connection, table: str) -> list[str]:
    with connection.cursor(pymysql.cursors.Cursor) as cursor:
        cursor.execute(
            "SELECT COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = %s AND EXTRA NOT LIKE '%%GENERATED%%' ORDER BY ORDINAL_POSITION",
            (table,),
        )
        return [str(row[0]) for row in cursor.fetchall()]


def primary_key_of(connection: Connection, table: str) -> list[str]:
    with connection.cursor(pymysql.cursors.Cursor) as cursor:
        cursor.execute(
            "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s "
            "AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION",
            (table,),
        )
        return [str(row[0]) for row in cursor.fetchall()]


def create_statement(connection: Connection, table: str) -> str:
    with connection.cursor(pymysql.cursors.Cursor) as cursor:
        cursor.execute(f"SHOW CREATE TABLE {quote(table)}")
        row = cursor.fetchone()
    if row is None:
        raise LookupError(f"table {table} has gone")
    return str(row[1])


def stream_lines(
    connection: Connection, table: str, columns: list[str], order: list[str]
) -> Iterator[bytes]:
    """The table's rows as encoded lines, in `order` (its primary key; every column for a
    table without one), read unbuffered."""
    select = ", ".join(quote(column) for column in columns)
    order_by = ", ".join(quote(column) for column in (order or columns))
    cursor = connection.cursor(pymysql.cursors.SSCursor)
    try:
        # Identifiers from the server's own catalogue (or the manifest), quoted.
        cursor.execute(f"SELECT {select} FROM {quote(table)} ORDER BY {order_by}")  # noqa: S608
        while rows := cursor.fetchmany(FETCH_ROWS):
            for row in rows:
                yield encode_row(row)
    finally:
        cursor.close()
