"""The backup's own connection and the catalogue queries dump and restore share.

A backup or restore holds one connection of its own for minutes (a `Database` of its own,
so the process's request connection is untouched) and reads with an unbuffered cursor
(`SSCursor`): rows arrive as they are fetched, so memory holds one batch, not the table.
The session is set to UTC (TIMESTAMP values are read and written unconverted on both sides)
and given long network timeouts (the server waits while a part is compressed and uploaded).

Where every column's type allows, the server writes each row's line itself (`JSON_ARRAY` of
the values as text, binary values as `{"b64": …}`): pymysql, pure Python, then parses one
value per row instead of one per column, which was two thirds of a backup's time
(docs/performance.md, "Backup and restore").
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
FETCH_ROWS = 5_000
#: Types whose value the server writes as the text protocol sends it (`CAST(… AS CHAR)`).
TEXT_TYPES = frozenset(
    [
        "tinyint",
        "smallint",
        "mediumint",
        "int",
        "bigint",
        "decimal",
        "char",
        "varchar",
        "tinytext",
        "text",
        "mediumtext",
        "longtext",
        "enum",
        "set",
        "json",
        "date",
        "datetime",
        "timestamp",
        "time",
        "year",
    ]
)
BINARY_TYPES = frozenset(["binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"])
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


def column_types(connection: Connection, table: str) -> dict[str, str]:
    """Each column's `DATA_TYPE` (`bigint`, `varchar`, `longblob`, …)."""
    with connection.cursor(pymysql.cursors.Cursor) as cursor:
        cursor.execute(
            "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
            "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
            (table,),
        )
        return {str(row[0]): str(row[1]).lower() for row in cursor.fetchall()}


def _server_value(column: str, data_type: str) -> str | None:
    """The expression the server writes a value with, as the text protocol would send it;
    None for a type whose text the two might write differently (FLOAT, BIT, spatial)."""
    if data_type in BINARY_TYPES:
        name = quote(column)
        return f"IF({name} IS NULL, NULL, JSON_OBJECT('b64', TO_BASE64({name})))"
    if data_type in TEXT_TYPES:
        return f"CAST({quote(column)} AS CHAR)"
    return None


def server_line(connection: Connection, table: str, columns: list[str]) -> str | None:
    """`JSON_ARRAY(…)` of the row as one line (bytes), or None when a column's type keeps
    the table on the client's encoder."""
    types = column_types(connection, table)
    values = [_server_value(column, types.get(column, "")) for column in columns]
    if any(value is None for value in values):
        return None
    return f"CONVERT(JSON_ARRAY({', '.join(v for v in values if v)}) USING binary)"


def stream_blocks(
    connection: Connection, table: str, columns: list[str], order: list[str]
) -> Iterator[list[bytes]]:
    """The table's rows as lines (without their newline), a fetch at a time, in `order` (its
    primary key; every column for a table without one), read unbuffered. The server writes
    each line (`server_line`) where it can: one value per row to parse instead of one per
    column; otherwise `codec.encode_row` does, over the values as the server sent them."""
    line = server_line(connection, table, columns)
    select = line or ", ".join(quote(column) for column in columns)
    order_by = ", ".join(quote(column) for column in (order or columns))
    cursor = connection.cursor(pymysql.cursors.SSCursor)
    try:
        # Identifiers from the server's own catalogue (or the manifest), quoted.
        cursor.execute(f"SELECT {select} FROM {quote(table)} ORDER BY {order_by}")  # noqa: S608
        while rows := cursor.fetchmany(FETCH_ROWS):
            if line:
                yield [row[0] for row in rows]
            else:
                yield [encode_row(row)[:-1] for row in rows]
    finally:
        cursor.close()
