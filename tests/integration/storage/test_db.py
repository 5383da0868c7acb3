"""The MySQL client: unit of work semantics and transparent recovery, on a real MariaDB."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pymysql
import pytest
from fastapi.testclient import TestClient

from retouch.core.db import Database, DatabaseUnavailable, get_database
from retouch.core.settings import get_settings
from scripts.local.migrate import apply_migrations, load_seed
from tests.conftest import Stack
from tests.probe_app import build_probe_app

pytestmark = pytest.mark.integration


@pytest.fixture
def database(private_stack: Stack) -> Iterator[Database]:
    database = get_database()
    with database.unit_of_work() as uow:
        uow.execute(
            "CREATE TABLE IF NOT EXISTS uow_probe (id INT PRIMARY KEY, note VARCHAR(20)) "
            "ENGINE=InnoDB"
        )
        uow.execute("DELETE FROM uow_probe")
        uow.commit()
    yield database
    if private_stack.mariadb.process is None:
        private_stack.mariadb.start()


def count_rows(database: Database) -> int:
    with database.unit_of_work() as uow:
        row = uow.fetch_one("SELECT COUNT(*) AS n FROM uow_probe")
    assert row is not None
    return int(row["n"])


def kill_connection_of(database: Database, stack: Stack) -> None:
    """Have the server drop our connection, as wait_timeout or a failover would."""
    connection_id = database.connection().thread_id()
    admin = pymysql.connect(unix_socket=str(stack.mariadb.socket_path), user="root")
    try:
        with admin.cursor() as cursor:
            cursor.execute("KILL %s", (connection_id,))
    finally:
        admin.close()


def test_unit_of_work_rolls_back_unless_committed(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.execute("INSERT INTO uow_probe (id, note) VALUES (%s, %s)", (1, "forgotten"))

    assert count_rows(database) == 0


def test_unit_of_work_rolls_back_when_the_use_case_raises(database: Database) -> None:
    with pytest.raises(ValueError), database.unit_of_work() as uow:
        uow.execute("INSERT INTO uow_probe (id, note) VALUES (%s, %s)", (1, "half-done"))
        raise ValueError("business rule broken")

    assert count_rows(database) == 0


def test_committed_work_is_kept(database: Database) -> None:
    with database.unit_of_work() as uow:
        uow.execute("INSERT INTO uow_probe (id, note) VALUES (%s, %s)", (1, "kept"))
        uow.commit()

    assert count_rows(database) == 1


def test_reuses_one_connection_across_units_of_work(database: Database) -> None:
    first = database.connection()
    count_rows(database)
    count_rows(database)

    assert database.connection() is first


def test_reconnects_transparently_after_the_server_drops_the_connection(
    database: Database, private_stack: Stack
) -> None:
    before = database.connection().thread_id()
    kill_connection_of(database, private_stack)

    assert count_rows(database) == 0
    assert database.connection().thread_id() != before


def test_reconnects_transparently_after_a_server_restart(
    database: Database, private_stack: Stack
) -> None:
    count_rows(database)
    private_stack.mariadb.stop()
    private_stack.mariadb.start()

    assert count_rows(database) == 0


def test_connection_lost_mid_transaction_fails_and_writes_nothing(
    database: Database, private_stack: Stack
) -> None:
    with pytest.raises(DatabaseUnavailable), database.unit_of_work() as uow:
        uow.execute("INSERT INTO uow_probe (id, note) VALUES (%s, %s)", (1, "first"))
        kill_connection_of(database, private_stack)
        uow.execute("INSERT INTO uow_probe (id, note) VALUES (%s, %s)", (2, "second"))
        uow.commit()

    assert count_rows(database) == 0


def test_database_down_fails_fast_with_503_then_recovers(
    database: Database, private_stack: Stack
) -> None:
    client = TestClient(build_probe_app(), raise_server_exceptions=False)
    assert client.get("/probe/db").status_code == 200

    private_stack.mariadb.stop()
    response = client.get("/probe/db")

    assert response.status_code == 503
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    # Nothing about the database reaches the client (the request id is random, so leave it out).
    told = {key: value for key, value in response.json().items() if key != "request_id"}
    assert "pymysql" not in str(told) and str(private_stack.mariadb.port) not in str(told)

    private_stack.mariadb.start()
    deadline = time.monotonic() + 10
    while client.get("/probe/db").status_code != 200:
        assert time.monotonic() < deadline, "never recovered"
        time.sleep(0.1)


def test_redis_down_fails_fast_with_503_then_recovers(private_stack: Stack) -> None:
    client = TestClient(build_probe_app(), raise_server_exceptions=False)
    assert client.get("/probe/cache").status_code == 200

    private_stack.redis.stop()
    try:
        response = client.get("/probe/cache")
        assert response.status_code == 503
        assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    finally:
        private_stack.redis.start()

    assert client.get("/probe/cache").status_code == 200


def test_migrations_and_seed_are_idempotent(private_stack: Stack) -> None:
    # GIVEN the stack fixture already migrated and seeded once
    # WHEN both run again
    applied = apply_migrations(get_settings())
    load_seed()

    # THEN nothing new is applied and each plan exists once
    assert applied == 0
    with get_database().unit_of_work() as uow:
        rows = uow.fetch_all("SELECT code, COUNT(*) AS n FROM plans GROUP BY code ORDER BY code")
    assert [(row["code"], row["n"]) for row in rows] == [("free", 1), ("max", 1), ("pro", 1)]


def test_read_only_unit_holds_no_transaction(database: Database) -> None:
    with database.read_only() as uow:
        row = uow.fetch_one("SELECT @@in_transaction AS open")

    assert row is not None and row["open"] == 0


def test_transactional_unit_opens_a_transaction_at_its_first_statement(
    database: Database,
) -> None:
    with database.unit_of_work() as uow:
        row = uow.fetch_one("SELECT @@in_transaction AS open")

    assert row is not None and row["open"] == 1


def test_read_only_unit_sees_each_commit_of_others_at_once(database: Database) -> None:
    # GIVEN a read-only unit that has already read
    with database.read_only() as reader:
        assert reader.fetch_one("SELECT COUNT(*) AS n FROM uow_probe") == {"n": 0}
        # WHEN another connection commits a row
        other = Database(get_settings())
        with other.unit_of_work() as writer:
            writer.execute("INSERT INTO uow_probe (id, note) VALUES (%s, %s)", (1, "other"))
            writer.commit()
        other.close()

        # THEN the next read sees it (no snapshot is kept between statements)
        assert reader.fetch_one("SELECT COUNT(*) AS n FROM uow_probe") == {"n": 1}


def test_read_only_unit_refuses_to_commit(database: Database) -> None:
    with pytest.raises(RuntimeError, match="read-only"), database.read_only() as uow:
        uow.commit()
