"""MySQL: one lazy connection per thread, transparent reconnect, and the unit of work.

A function instance serves one request at a time, so one connection per instance (per thread
on the local gateway), opened on first use and kept warm, is the pool. When the server
restarted or dropped it, the first statement of a unit of work fails before anything was
written, so the unit reconnects and runs it again. Failures are `DatabaseUnavailable` (503).

Each use has its own `Database` and timeouts (`get_database(use)`): a user-facing `request`
waits at most RETOUCH_DB_REQUEST_TIMEOUT_S for any answer, the handshake included, and its
reads are cut by the server at RETOUCH_DB_STATEMENT_TIMEOUT_S; `health` at most
RETOUCH_DB_HEALTH_TIMEOUT_S; a `job` (jobs, triggers) and the engine's `steps`
RETOUCH_DB_READ_TIMEOUT_S (autocommit off for `steps`: its first statement starts a
transaction, no `BEGIN` round trip). A statement that timed out is not retried on a new
connection: a server that does not answer is hung, not restarted, and a second wait would
double the request's. Every statement is timed; slow ones are logged and counted
(`core.db_statements`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cache
from typing import Any, Literal, TypeVar

import pymysql
import pymysql.cursors

from retouch.core.db_connect import (
    ACCESS_DENIED,
    STATEMENT_TIMEOUT_CODES,
    open_connection,
    timed_out,
)
from retouch.core.db_connect import DatabaseUnavailable as DatabaseUnavailable
from retouch.core.db_connect import StatementTimedOut as StatementTimedOut
from retouch.core.db_connect import _tls_context as _tls_context
from retouch.core.db_connect import is_connection_error as is_connection_error
from retouch.core.db_statements import OBSERVERS, count_connection, observe, report_slow
from retouch.core.settings import Settings, get_settings
from retouch.core.units import sql_adapter_of

P = TypeVar("P")
IN_TRANS = pymysql.constants.SERVER_STATUS.SERVER_STATUS_IN_TRANS

DatabaseUse = Literal["request", "health", "job", "steps"]

Params = Sequence[Any] | dict[str, Any] | None
Row = dict[str, Any]


class Database:
    """Connection owner for one process; hands out units of work."""

    def __init__(self, settings: Settings, use: DatabaseUse = "request") -> None:
        self._settings = settings
        self.use = use
        self._local = threading.local()
        self._down_until = 0.0
        self.timeout_s = {
            "request": settings.db_request_timeout_s,
            "health": settings.db_health_timeout_s,
            "job": settings.db_read_timeout_s,
            "steps": settings.db_read_timeout_s,
        }[use]
        self.implicit = use == "steps"  # autocommit off: see the module
        self.slow_s = settings.db_slow_ms / 1000 if settings.db_slow_ms else float("inf")
        self.read_prefix = ""  # `SET STATEMENT max_statement_time=… FOR ` (MariaDB requests)

    def fail_fast(self) -> None:
        """Refuse connects for RETOUCH_DB_RETRY_AFTER_FAILURE_S: the server just failed us."""
        self._down_until = time.monotonic() + self._settings.db_retry_after_failure_s

    def _connect(self) -> pymysql.connections.Connection[Any]:
        """A new connection. The password is read at the first connect (the secret store's
        when RETOUCH_DB_PASSWORD_SECRET is set, then cached; refused, read again once: a
        rotation), and the secrets package imported only then, not in every cold start."""
        from retouch.core.secrets import SecretUnavailable
        from retouch.core.secrets.own import database_password

        if time.monotonic() < self._down_until:
            raise DatabaseUnavailable("database unreachable (recent connect failed)")
        try:
            password = database_password(self._settings)
            try:
                connection = self._open(password)
            except pymysql.err.OperationalError as exc:
                if not (self._settings.db_password_secret and exc.args[:1] == (ACCESS_DENIED,)):
                    raise
                rotated = database_password(self._settings, refresh=True)
                if rotated == password:
                    raise
                connection = self._open(rotated)
        except SecretUnavailable:
            # Fail fast for a while, as for an unreachable server: no read per request.
            self.fail_fast()
            raise
        except pymysql.err.MySQLError as exc:
            self.fail_fast()
            raise DatabaseUnavailable("database unreachable") from exc
        # A reconnect: this thread had a connection before (dropped, timed out, or lost).
        count_connection(self.use, reconnect=getattr(self._local, "opened", False))
        self._local.connection, self._local.opened = connection, True
        return connection

    def _open(self, password: str) -> pymysql.connections.Connection[Any]:
        connection, self.read_prefix = open_connection(
            self._settings,
            password,
            timeout_s=self.timeout_s,
            autocommit=not self.implicit,
            read_limit_s=self._settings.db_statement_timeout_s if self.use == "request" else 0,
        )
        return connection

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

    def autocommit(self) -> UnitOfWork:
        """A write standing alone, committed as it runs; never `implicit` (nothing commits)."""
        if self.implicit:
            raise RuntimeError(f"no autocommit unit on the {self.use!r} connection")
        return UnitOfWork(self, read_only=True)

    def ping(self) -> None:
        """One real round trip (`SELECT 1`), reconnecting if the old connection is dead."""
        with self.read_only() as uow:
            uow.fetch_one("SELECT 1 AS ok")


class UnitOfWork:
    """One transaction: BEGIN before its first statement (none on an `implicit` connection,
    where that statement starts it), ROLLBACK on exit unless `commit()` was called.

    A `read_only` unit opens no transaction (on an `implicit` connection its reads share one,
    rolled back on exit, unless it runs inside another unit's): each statement runs in
    autocommit and sees the latest committed data, so there is nothing to end. Use it only
    where no statement needs to see the others' snapshot or hold a lock."""

    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        self._database, self._read_only = database, read_only
        self._connection: pymysql.connections.Connection[Any] | None = None
        self._statements, self._in_transaction = 0, False
        self._repositories: dict[type[Any], Any] = {}

    def __enter__(self) -> UnitOfWork:
        self._connection = self._database.connection()
        self._statements, self._in_transaction = 0, False
        return self

    def __exit__(self, *exc_info: object) -> None:
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
        implicit = self._database.implicit
        if not self._in_transaction and (implicit or not self._read_only):
            if not implicit:
                self._conn.begin()
            status = self._conn.server_status  # type: ignore[attr-defined]
            # A read-only unit inside an outer unit's open transaction leaves it to its owner.
            self._in_transaction = not (self._read_only and status & IN_TRANS)
        if self._read_only and sql.lstrip()[:6].upper() == "SELECT":
            sql = self._database.read_prefix + sql
        cursor: pymysql.cursors.DictCursor = self._conn.cursor()
        cursor.execute(sql, params)
        return cursor

    @contextmanager
    def _cursor(self, sql: str, params: Params) -> Iterator[pymysql.cursors.DictCursor]:
        if OBSERVERS:
            observe(sql, params, self._database.use)
        started = time.perf_counter()
        cursor = self._send(sql, params)
        elapsed = time.perf_counter() - started
        if elapsed >= self._database.slow_s:
            report_slow(sql, elapsed, int(cursor.rowcount), self._database.use)
        self._statements += 1
        try:
            yield cursor
        finally:
            cursor.close()

    def _send(self, sql: str, params: Params) -> pymysql.cursors.DictCursor:
        """Run `sql`; on a lost connection, once more on a new one (see the module docstring)."""
        try:
            return self._run(sql, params)
        except pymysql.err.MySQLError as exc:
            if exc.args[:1] and exc.args[0] in STATEMENT_TIMEOUT_CODES:
                raise StatementTimedOut("the database took too long to answer") from exc
            if not is_connection_error(exc):
                raise
            if timed_out(exc):
                self._database.close()
                self._database.fail_fast()
                raise DatabaseUnavailable("database did not answer in time") from exc
            if self._statements > 0:
                # Earlier statements of this transaction are lost with the connection.
                self._database.close()
                raise DatabaseUnavailable("database connection lost mid-transaction") from exc
            self._connection = self._database.connection(fresh=True)
            self._in_transaction = False
            try:
                return self._run(sql, params)
            except pymysql.err.MySQLError as retry_exc:
                if is_connection_error(retry_exc):
                    self._database.close()
                    raise DatabaseUnavailable("database connection lost") from retry_exc
                raise

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


_opened: list[Database] = []


@cache
def get_database(use: DatabaseUse = "request") -> Database:
    """The process's database for `use` (`request`, `health`, `job`, `steps`), made once."""
    database = Database(get_settings(), use)
    _opened.append(database)
    return database


def forget_databases() -> None:
    """Close and forget every use's database (tests; `reset_clients`)."""
    get_database.cache_clear()
    while _opened:
        _opened.pop().close()
