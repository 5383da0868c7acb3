"""Credits under concurrency: many connections at once, never below zero, never twice.

Each worker is a thread with its own `Database` (so its own connection), standing in for a
function instance; all of them connect first and then start together at a barrier.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import pymysql
import pytest

from retouch.core.db import Database, DatabaseUnavailable, get_database
from retouch.core.settings import get_settings
from retouch.quota.errors import QuotaExceeded
from retouch.quota.reservations import charge, refund, reserve
from retouch.quota.service import get_quota
from tests.conftest import Stack
from tests.integration.quota_support import (
    FakeClock,
    account_of,
    assert_ledger_matches,
    at,
    ledger_kinds,
    new_ref,
    new_user,
    spend_down_to,
)

pytestmark = pytest.mark.integration

T = TypeVar("T")
WORKERS = 500


@pytest.fixture(scope="module")
def many_connections(stack: Stack) -> Iterator[None]:
    """Let the test server accept every worker's connection (MariaDB's default is 151)."""
    admin = pymysql.connect(unix_socket=str(stack.mariadb.socket_path), user="root")
    try:
        with admin.cursor() as cursor:
            cursor.execute("SELECT @@GLOBAL.max_connections AS n")
            (before,) = cursor.fetchone()  # type: ignore[misc]
            cursor.execute("SET GLOBAL max_connections = %s", (WORKERS + 100,))
        yield
        with admin.cursor() as cursor:
            cursor.execute("SET GLOBAL max_connections = %s", (before,))
    finally:
        admin.close()


@pytest.fixture
def database(stack: Stack) -> Database:
    return get_database()


#: How long a worker keeps trying to connect: 500 connects on a busy 2-core machine (another
#: test suite beside this one) can take a while; only the reserves that follow are under test.
CONNECT_PATIENCE_S = 180


def _connected() -> Database:
    """A database with its connection open, retried until CONNECT_PATIENCE_S has passed."""
    give_up = time.monotonic() + CONNECT_PATIENCE_S
    while True:
        # A job's timeouts: under test are the quota's rules with 500 writers queued on one
        # row, not the request's 1.5 s budget (a request waiting that long answers 503).
        database = Database(get_settings(), "job")
        try:
            database.connection()
            return database
        except DatabaseUnavailable:
            database.close()
            if time.monotonic() >= give_up:
                raise
            time.sleep(0.2)


def run_together(count: int, call: Callable[[Database, int], T]) -> list[T | BaseException]:
    """Run `call(database, index)` on `count` threads, each with its own connection, all
    released at once; return each result or the exception it raised."""
    barrier = threading.Barrier(count)

    def worker(index: int) -> T | BaseException:
        try:
            database = _connected()  # before the start line: connecting is not under test
        except DatabaseUnavailable as exc:
            barrier.abort()
            return exc
        try:
            barrier.wait(timeout=CONNECT_PATIENCE_S)
            return call(database, index)
        except Exception as exc:  # noqa: BLE001 - the test inspects every outcome
            return exc
        finally:
            database.close()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(worker, range(count)))


def outcomes(results: Sequence[object]) -> Counter[str]:
    return Counter(type(result).__name__ for result in results)


def test_500_concurrent_reserves_against_50_credits_let_exactly_50_through(
    database: Database, many_connections: None
) -> None:
    user_id = new_user(database)
    spend_down_to(database, user_id, 50)

    results = run_together(
        WORKERS,
        lambda db, index: reserve(
            database=db, user_id=user_id, amount=1, task_ref=new_ref(f"race{index}")
        ),
    )

    assert outcomes(results) == {"bool": 50, "QuotaExceeded": 450}
    assert all(result is True for result in results if isinstance(result, bool))
    assert all(isinstance(result, (bool, QuotaExceeded)) for result in results)
    assert account_of(database, user_id) == {"balance": 0, "reserved": 50}
    # one reserve spent the first 50 credits, then one per winner
    assert [kind for kind, _ in ledger_kinds(database, user_id)].count("reserve") == 1 + 50
    assert_ledger_matches(database, user_id)


def test_500_concurrent_reserves_of_one_task_ref_reserve_once(
    database: Database, many_connections: None
) -> None:
    user_id = new_user(database)
    ref = new_ref()

    results = run_together(
        WORKERS, lambda db, _: reserve(database=db, user_id=user_id, amount=3, task_ref=ref)
    )

    assert sorted(results, key=str) == [False] * (WORKERS - 1) + [True]
    assert account_of(database, user_id) == {"balance": 97, "reserved": 3}
    assert_ledger_matches(database, user_id)


def test_concurrent_charges_and_refunds_of_one_reservation_settle_it_once(
    database: Database, many_connections: None
) -> None:
    user_id = new_user(database)
    ref = new_ref()
    reserve(database=database, user_id=user_id, amount=10, task_ref=ref)

    results = run_together(
        WORKERS,
        lambda db, index: (charge if index % 2 else refund)(database=db, task_ref=ref),
    )

    assert results.count(True) == 1 and results.count(False) == WORKERS - 1
    settled_by = [
        kind for kind, _ in ledger_kinds(database, user_id) if kind in ("charge", "refund")
    ]
    assert len(settled_by) == 1
    expected_balance = 100 if settled_by == ["refund"] else 90
    assert account_of(database, user_id) == {"balance": expected_balance, "reserved": 0}
    assert_ledger_matches(database, user_id)


def test_a_new_period_is_granted_once_however_many_callers_see_it_first(
    database: Database, many_connections: None
) -> None:
    clock = FakeClock(at(2030, 1, 20))
    user_id = new_user(database, clock=clock)
    spend_down_to(database, user_id, 0, clock=clock)
    clock.now = at(2030, 2, 1, hour=0)

    def reserve_or_read(db: Database, index: int) -> object:
        if index % 2:
            return get_quota(database=db, user_id=user_id, clock=clock)
        return reserve(database=db, user_id=user_id, amount=1, task_ref=new_ref(), clock=clock)

    results = run_together(200, reserve_or_read)

    assert outcomes(results) == {"bool": 100, "QuotaRead": 100}
    grants = [amount for kind, amount in ledger_kinds(database, user_id) if kind == "period_grant"]
    assert grants == [100, 100]  # the first period's and February's, once
    assert account_of(database, user_id) == {"balance": 0, "reserved": 100}
    assert_ledger_matches(database, user_id)
