"""What holds InnoDB locks on the test stack now and what waits for them, for the message of
a concurrency test that failed (read as root over the socket: the service's user may not see
other sessions)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Stack
from tests.integration.backup_support import connect


def open_transactions(stack: Stack) -> list[tuple[Any, ...]]:
    """The oldest open transactions (up to 20): id, state, start, rows locked, session, its
    statement and command, and the transaction it waits for."""
    connection = connect(stack, "information_schema")
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT t.trx_id, t.trx_state, t.trx_started, t.trx_rows_locked, "
                "t.trx_mysql_thread_id, t.trx_query, p.COMMAND, p.TIME, p.INFO, "
                "w.blocking_trx_id FROM INNODB_TRX t "
                "LEFT JOIN PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "
                "LEFT JOIN INNODB_LOCK_WAITS w ON w.requesting_trx_id = t.trx_id "
                "ORDER BY t.trx_started LIMIT 20"
            )
            return list(cursor.fetchall())
    finally:
        connection.close()


def innodb_status(stack: Stack) -> str:
    """InnoDB's own account of its transactions, locks and last deadlock, and the lock waits
    it lists: what a stalled concurrency test prints beside `open_transactions`."""
    connection = connect(stack, "information_schema")
    try:
        with connection.cursor() as cursor:
            cursor.execute("SHOW ENGINE INNODB STATUS")
            status = cursor.fetchone()[2]
            cursor.execute(
                "SELECT w.requesting_trx_id, w.blocking_trx_id, l.lock_mode, l.lock_type, "
                "l.lock_table, l.lock_index, l.lock_data FROM INNODB_LOCK_WAITS w "
                "JOIN INNODB_LOCKS l ON l.lock_id = w.blocking_lock_id LIMIT 100"
            )
            waits = cursor.fetchall()
    finally:
        connection.close()
    return f"{status}\nlock waits (requester, blocker, mode, type, table, index, data): {waits}"
