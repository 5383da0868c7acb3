"""A backup taken while 50 writers add tasks and move credits restores to a consistent copy:
in the copy, every account's ledger sums to its balance and every task has its charged
reservation (and no reservation its missing task)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pymysql
import pytest

from retouch.backup.dump import run_backup
from retouch.backup.restore import restore
from retouch.core.db import Database
from retouch.core.settings import get_settings
from retouch.core.time import to_db, utc_now
from retouch.quota.reservations import charge_in, reserve_in
from retouch.quota.service import grant_credits
from scripts.bench.generate_tasks import _INSERT_TASKS, _features, task_rows
from tests.conftest import Stack
from tests.integration.backup_support import connect, drop_database, local_storage
from tests.integration.lock_support import innodb_status, open_transactions
from tests.integration.quota_support import new_ref, new_user

pytestmark = pytest.mark.integration

WRITERS = 50
#: Deadlock, lock wait timeout, and InnoDB's auto-increment contention under 50 inserters:
#: the transaction was rolled back whole, as the service's own callers retry it.
RETRIED = frozenset({1213, 1205, 1467})
TARGET = "retouch_consistency"
LOCK_WAIT_S = 5


def _write_until(stop: threading.Event, user_id: int, done: list[int]) -> None:
    """One writer: in each transaction, a grant, a task and its credits reserved and charged
    (through the jobs' timeouts: 50 writers beside a backup is not a user's request)."""
    database = Database(get_settings(), "job")
    connection = database.connection()
    with connection.cursor() as cursor:
        # A lock wait ends as a retried 1205 long before the job's 30-s client timeout.
        cursor.execute("SET SESSION innodb_lock_wait_timeout = %s", (LOCK_WAIT_S,))
    features = _features(connection)
    rng = random.Random(user_id)
    now = to_db(utc_now())
    while not stop.is_set():
        (row,) = task_rows(
            rows=1,
            user_rows=1,
            owner_id=user_id,
            user_ids=[user_id],
            features=features,
            start=now - timedelta(hours=1),
            end=now,
            rng=rng,
        )
        cost = int(row[9]) or 1
        try:
            with database.unit_of_work() as uow:
                grant_credits(uow=uow, user_id=user_id, amount=cost, reason="t", ref=new_ref("g"))
                uow.execute(_INSERT_TASKS, row)
                reserve_in(uow=uow, user_id=user_id, amount=cost, task_ref=str(row[0]))
                charge_in(uow=uow, task_ref=str(row[0]))
                uow.commit()
        except pymysql.err.OperationalError as exc:
            if exc.args[0] not in RETRIED:
                raise
            continue  # rolled back whole: the next transaction tries again
        done[0] += 1
    database.close()


@pytest.fixture
def writers(stack: Stack) -> Iterator[list[int]]:
    """50 writers committing until the test ends; they are stopped whatever happens, so none
    outlives its test and loads the tests after it."""
    database = Database(get_settings(), "job")
    users = [new_user(database) for _ in range(WRITERS)]
    stop, done = threading.Event(), [0]
    threads = [threading.Thread(target=_write_until, args=(stop, user, done)) for user in users]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 120
        while done[0] < WRITERS:  # writers connected and committing
            assert time.monotonic() < deadline, (
                f"only {done[0]} commits in 120 s; open transactions: {open_transactions(stack)}"
                f"\n{innodb_status(stack)}"
            )
            assert any(thread.is_alive() for thread in threads), "every writer stopped"
            stop.wait(0.05)
        yield users
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)


def test_a_backup_under_50_writers_restores_to_a_consistent_copy(
    stack: Stack, writers: list[int], tmp_path: Path
) -> None:
    drop_database(stack, TARGET)
    storage = local_storage(tmp_path / "bucket")
    settings = get_settings().model_copy(update={"backup_part_rows": 200})
    manifest = run_backup(settings=settings, storage=storage, clock=utc_now)
    restore(settings=settings, storage=storage, backup=manifest.id, database=TARGET)

    copy = connect(stack, TARGET)
    try:
        with copy.cursor() as cursor:
            cursor.execute(
                "SELECT a.user_id, a.balance, COALESCE(SUM(l.amount), 0) FROM quota_accounts a "
                "LEFT JOIN quota_ledger l ON l.user_id = a.user_id GROUP BY a.user_id, a.balance"
            )
            accounts = cursor.fetchall()
            cursor.execute(
                "SELECT COUNT(*) FROM tasks t LEFT JOIN quota_reservations r "
                "ON r.task_ref = t.public_id AND r.status = 'charged' "
                "WHERE t.user_id IN %s AND r.task_ref IS NULL",
                (writers,),
            )
            (tasks_without_charge,) = cursor.fetchone()
            cursor.execute(
                "SELECT COUNT(*) FROM quota_reservations r LEFT JOIN tasks t "
                "ON t.public_id = r.task_ref WHERE r.user_id IN %s AND t.id IS NULL",
                (writers,),
            )
            (charges_without_task,) = cursor.fetchone()
            cursor.execute("SELECT COUNT(*) FROM tasks WHERE user_id IN %s", (writers,))
            (copied_tasks,) = cursor.fetchone()
    finally:
        copy.close()
    assert copied_tasks >= WRITERS
    assert all(int(balance) == int(total) for _, balance, total in accounts), accounts
    assert (tasks_without_charge, charges_without_task) == (0, 0)
    # The writers went on after the snapshot: the live database has more than the copy.
    live = connect(stack, "retouch")
    try:
        with live.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM tasks WHERE user_id IN %s", (writers,))
            (live_tasks,) = cursor.fetchone()
    finally:
        live.close()
    assert live_tasks > copied_tasks
