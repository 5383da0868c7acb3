"""Opening a MySQL connection, and telling its failures apart (`retouch.core.db`).

A failure is one of: the connection is gone or never came (`is_connection_error`: the unit of
work may reconnect once), the client gave up waiting (`timed_out`: the server is hung; no
second wait), the server cut the statement at its limit (`STATEMENT_TIMEOUT_CODES`), or a
statement error the caller sees as it is.
"""

from __future__ import annotations

import ssl
from functools import cache
from typing import Any

import pymysql
import pymysql.cursors

from retouch.core.errors import ServiceUnavailable
from retouch.core.settings import Settings

# Client-side codes: can't connect, server gone away, lost connection during query,
# query interrupted / connection killed (MariaDB), disconnected for inactivity (MySQL 8).
_CONNECTION_ERROR_CODES = frozenset({2003, 2006, 2013, 2055, 1927, 4031})
#: ER_ACCESS_DENIED_ERROR: the server refused the user or password.
ACCESS_DENIED = 1045
#: The server cut a statement at its time limit: MariaDB max_statement_time, MySQL
#: max_execution_time.
STATEMENT_TIMEOUT_CODES = frozenset({1969, 3024})
#: ER_DUP_ENTRY: an insert met a row already holding its value of a unique key.
DUPLICATE_KEY = 1062


def is_duplicate(exc: pymysql.err.IntegrityError, key: str) -> bool:
    """Whether `exc` refused an insert for a duplicate value of the unique key `key`."""
    return bool(exc.args) and exc.args[0] == DUPLICATE_KEY and key in str(exc.args[-1])


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached; no statement of the unit of work took effect."""


class StatementTimedOut(ServiceUnavailable):
    """The server cut a user-facing read at RETOUCH_DB_STATEMENT_TIMEOUT_S."""


def is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, pymysql.err.InterfaceError):
        return True
    return (
        isinstance(exc, pymysql.err.OperationalError)
        and bool(exc.args)
        and (exc.args[0] in _CONNECTION_ERROR_CODES)
    )


def timed_out(exc: BaseException) -> bool:
    """The client gave up waiting for the server (pymysql's read/write timeout)."""
    return isinstance(exc, pymysql.err.OperationalError) and "timed out" in str(exc)


@cache
def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    # Built once: pymysql would otherwise load the CA store on every connect (~20 ms).
    return ssl.create_default_context(cafile=ca_file)


def open_connection(
    settings: Settings,
    password: str,
    *,
    timeout_s: float,
    read_limit_s: float,
    autocommit: bool = True,
) -> tuple[pymysql.connections.Connection[Any], str]:
    """A new connection (autocommit unless told otherwise) whose every wait (handshake,
    reads, writes) is bounded by `timeout_s`, and the prefix that bounds a read on the server
    at `read_limit_s` (0: none). MariaDB takes the limit per statement (`SET STATEMENT
    max_statement_time=… FOR SELECT`, the returned prefix); MySQL per session
    (`max_execution_time`, which it applies to read-only SELECTs only), set here."""
    tls: dict[str, Any] = {"ssl_disabled": True}
    if settings.db_tls:
        tls = {"ssl": _tls_context(settings.db_tls_ca_file)}
    connection = pymysql.connect(
        host=settings.db_host,
        port=settings.db_port,
        user=settings.db_user,
        password=password,
        database=settings.db_name,
        charset="utf8mb4",
        # Transactions are explicit (UnitOfWork sends BEGIN) unless autocommit is off, where
        # the first statement starts one (the engine's `steps` connection).
        autocommit=autocommit,
        connect_timeout=settings.db_connect_timeout_s,
        read_timeout=timeout_s,
        write_timeout=timeout_s,
        cursorclass=pymysql.cursors.DictCursor,
        **tls,
    )
    if not read_limit_s:
        return connection, ""
    if "MariaDB" in connection.get_server_info():  # type: ignore[no-untyped-call]
        return connection, f"SET STATEMENT max_statement_time={read_limit_s:g} FOR "
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION max_execution_time = %s", (int(read_limit_s * 1000),))
    return connection, ""
