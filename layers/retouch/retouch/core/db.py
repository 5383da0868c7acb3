"""MySQL: one lazy connection per thread, transparent reconnect, and the unit of work.

A function instance serves one request at a time, so one connection per instance (per thread,
for the local gateway's worker threads) is the pool. It is opened on first use and kept across
warm invocations. When the server restarted or dropped the idle connection, the first
statement of a unit of work fails; nothing has been written yet, so the unit reconnects and
runs that statement again. Connection failures surface as `DatabaseUnavailable` (503).
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from types import TracebackType
from typing import Any, TypeVar

import pymysql
import pymysql.cursors

from retouch.core.errors import ServiceUnavailable
from retouch.core.settings import Settings, get_settings
from retouch.core.units import sql_adapter_of

P = TypeVar("P")

# Client-side codes: can't connect, server gone away, lost connection during query,
# query interrupted / connection killed (MariaDB), disconnected for inactivity (MySQL 8).
_CONNECTION_ERROR_CODES = frozenset({2003, 2006, 2013, 2055, 1927, 4031})
#: ER_ACCESS_DENIED_ERROR: the server refused the user or password.
_ACCESS_DENIED = 1045

Params = Sequence[Any] | dict[str, Any] | None
Row = dict[str, Any]


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached; no statement of the unit of work took effect."""


def is_connection_error(exc: BaseException) -> bool:
    if isinstance(exc, pymysql.err.InterfaceError):
        return True
    return (
        isinstance(exc, pymysql.err.OperationalError)
        and bool(exc.args)
        and (exc.args[0] in _CONNECTION_ERROR_CODES)
    )


@cache
def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    # Built once: pymysql would otherwise load the CA store on every connect (~20 ms).
    return ssl.create_default_context(cafile=ca_file)


class Database:
    """Connection owner for one process; hands out units of work."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._local = threading.local()
        self._down_until = 0.0

    def _connect(self) -> pymysql.connections.Connection[Any]:
        """A new connection. The password is read here, at the first connect (from the secret
        store when RETOUCH_DB_PASSWORD_SECRET is set, then cached): refused, it is read once
        more (a rotation since it was cached) and the connect tried again. The secrets
        package is imported here too: a function that never connects never loads it, and one
        that does pays for it once, not in every cold start's import."""
        from retouch.core.secrets import SecretUnavailable
        from retouch.core.secrets.own import database_password

        if time.monotonic() < self._down_until:
            raise DatabaseUnavailable("database unreachable (recent connect failed)")
        try:
            password = database_password(self._settings)
            try:
                connection = self._open(password)
            except pymysql.err.OperationalError as exc:
                if not (self._settings.db_password_secret and exc.args[:1] == (_ACCESS_DENIED,)):
                    raise
                rotated = database_password(self._settings, refresh=True)
                if rotated == password:
                    raise
                connection = self._open(rotated)
        except SecretUnavailable:
            # Fail fast for a while, as for an unreachable server: no read per request.
            self._down_until = time.monotonic() + self._settings.db_retry_after_failure_s
            raise
        except pymysql.err.MySQLError as exc:
            self._down_until = time.monotonic() + self._settings.db_retry_after_failure_s
            raise DatabaseUnavailable("database unreachable") from exc
        self._local.connection = connection
        return connection

    def _open(self, password: str) -> pymysql.connections.Connection[Any]:
        settings = self._settings
        tls: dict[str, Any] = (
            {"ssl": _tls_context(settings.db_tls_ca_file)}
            if settings.db_tls
            else {"ssl_disabled": True}
        )
        return pymysql.connect(
            host=settings.db_host,
            port=settings.db_port,
            user=settings.db_user,
            password=password,
            database=settings.db_name,
            charset="utf8mb4",
            # Transactions are explicit (UnitOfWork sends BEGIN); reads need none.
            autocommit=True,
            connect_timeout=settings.db_connect_timeout_s,
            read_timeout=settings.db_read_timeout_s,
            write_timeout=settings.db_read_timeout_s,
            cursorclass=pymysql.cursors.DictCursor,
            **tls,
        )

    def connection(self, *, fresh: bool = False) -> pymysql.connections.Connection[Any]:
        """The thread's connection, opened on first use (or anew when `fresh`)."""
        current = getattr(self._local, "connection", None)
        if current is not None and not fresh:
            return current  # type: ignore[no-any-return]
        if current is not None:
            self.close()
        return self._connect()

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        if connection is not None and connection.open:
            # The socket may already be gone; then there is nothing to tell the server.
            with suppress(pymysql.err.Error):
                connection.close()

    def unit_of_work(self) -> UnitOfWork:
        """A transaction for a use case that writes (or must read under locks)."""
        return UnitOfWork(self)

    def read_only(self) -> UnitOfWork:
        """Statements that only read, each in autocommit: no transaction to open or end."""
        return UnitOfWork(self, read_only=True)

    def ping(self) -> None:
        """One real round trip (`SELECT 1`), reconnecting if the old connection is dead."""
        with self.read_only() as uow:
            uow.fetch_one("SELECT 1 AS ok")


class UnitOfWork:
    """One transaction: BEGIN before its first statement, ROLLBACK on exit unless `commit()`
    was called.

    A `read_only` unit opens no transaction: each statement runs in autocommit and sees the
    latest committed data, so there is nothing to end: one round trip less than a
    transaction's ROLLBACK, on the reads most requests make. Use it only where no statement
    needs to see the others' snapshot or hold a lock.
    """

    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        self._database = database
        self._read_only = read_only
        self._connection: pymysql.connections.Connection[Any] | None = None
        self._statements = 0
        self._in_transaction = False
        self._repositories: dict[type[Any], Any] = {}

    def __enter__(self) -> UnitOfWork:
        self._connection = self._database.connection()
        self._statements = 0
        self._in_transaction = False
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.rollback()
        self._connection = None

    def repository(self, port: type[P]) -> P:
        """The SQL adapter of `port` over this unit of work (`core.units`), one per port."""
        found = self._repositories.get(port)
        if found is None:
            found = self._repositories[port] = sql_adapter_of(port)(self)
        return found

    @property
    def _conn(self) -> pymysql.connections.Connection[Any]:
        if self._connection is None:
            raise RuntimeError("unit of work used outside its `with` block")
        return self._connection

    def _run(self, sql: str, params: Params) -> pymysql.cursors.DictCursor:
        if not self._read_only and not self._in_transaction:
            self._conn.begin()
            self._in_transaction = True
        cursor: pymysql.cursors.DictCursor = self._conn.cursor()
        cursor.execute(sql, params)
        return cursor

    @contextmanager
    def _cursor(self, sql: str, params: Params) -> Iterator[pymysql.cursors.DictCursor]:
        try:
            cursor = self._run(sql, params)
        except pymysql.err.MySQLError as exc:
            if not is_connection_error(exc):
                raise
            if self._statements > 0:
                # Earlier statements of this transaction are lost with the connection.
                self._database.close()
                raise DatabaseUnavailable("database connection lost mid-transaction") from exc
            self._connection = self._database.connection(fresh=True)
            self._in_transaction = False
            try:
                cursor = self._run(sql, params)
            except pymysql.err.MySQLError as retry_exc:
                if is_connection_error(retry_exc):
                    self._database.close()
                    raise DatabaseUnavailable("database connection lost") from retry_exc
                raise
        self._statements += 1
        try:
            yield cursor
        finally:
            cursor.close()

    def execute(self, sql: str, params: Params = None) -> int:
        """Run one statement; return the number of affected rows."""
        with self._cursor(sql, params) as cursor:
            return int(cursor.rowcount)

    def fetch_one(self, sql: str, params: Params = None) -> Row | None:
        with self._cursor(sql, params) as cursor:
            row: Row | None = cursor.fetchone()
            return row

    def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        with self._cursor(sql, params) as cursor:
            return list(cursor.fetchall())

    def last_insert_id(self) -> int:
        return int(self._conn.insert_id())  # type: ignore[no-untyped-call]

    def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work has nothing to commit")
        if self._in_transaction:
            self._conn.commit()
        self._in_transaction = False
        self._statements = 0

    def rollback(self) -> None:
        self._statements = 0
        if self._connection is None or not self._in_transaction:
            return
        self._in_transaction = False
        try:
            self._connection.rollback()
        except pymysql.err.MySQLError:
            # The connection died; the server discards the open transaction itself.
            self._database.close()


@cache
def get_database() -> Database:
    """The process's database, created on first use."""
    return Database(get_settings())
