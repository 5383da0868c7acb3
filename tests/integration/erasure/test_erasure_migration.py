"""Migration 0024 and its rollback on the real server: the rollback takes the deletion column
and statuses away (an account being deleted stays refused, as `disabled`), and the migration
applies again after it."""

from __future__ import annotations

import pymysql
import pytest

from retouch.core.db import Database, get_database
from tests.conftest import Stack
from tests.integration.erasure_support import new_person
from tests.integration.rollups.test_rollup_migration import run_script

pytestmark = pytest.mark.integration


def has_column(database: Database) -> bool:
    with database.read_only() as uow:
        row = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM information_schema.columns WHERE table_schema = DATABASE() "
            "AND table_name = 'users' AND column_name = 'deletion_requested_at'"
        )
    assert row is not None
    return int(row["n"]) == 1


def set_status(database: Database, user_id: int, status: str) -> str:
    with database.unit_of_work() as uow:
        uow.execute("UPDATE users SET status = %s WHERE id = %s", (status, user_id))
        row = uow.fetch_one("SELECT status FROM users WHERE id = %s", (user_id,))
        uow.commit()
    assert row is not None
    return str(row["status"])


def test_the_rollback_undoes_0024_and_the_migration_applies_again(stack: Stack) -> None:
    database = get_database()
    person = new_person()
    assert has_column(database)
    assert set_status(database, person.id, "deleting") == "deleting"

    run_script(database, "0024.account_erasure.rollback.sql")
    try:
        assert not has_column(database)
        assert set_status(database, person.id, "disabled") == "disabled"
        with pytest.raises(pymysql.err.OperationalError):  # the CHECK refuses it again
            set_status(database, person.id, "deleting")
    finally:
        run_script(database, "0024.account_erasure.sql")
    assert has_column(database)
    assert set_status(database, person.id, "deleted") == "deleted"
