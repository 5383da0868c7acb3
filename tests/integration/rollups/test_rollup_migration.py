"""Migration 0017 and its rollback on the real server: the rollback removes the table and
every index the migration added, and the migration applies again after it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from retouch.core.db import Database, get_database
from tests.conftest import Stack

pytestmark = pytest.mark.integration

MIGRATIONS = Path(__file__).resolve().parents[3] / "shared" / "migrations"
ADDED = {
    ("tasks", "ix_tasks_created"),
    ("tasks", "ix_tasks_finished"),
    ("tasks", "ix_tasks_status"),
    ("quota_ledger", "ix_quota_ledger_created"),
    ("uploads", "ix_uploads_created"),
}


def run_script(database: Database, name: str) -> None:
    # The scripts hold no string with "--" or ";": comments go, then statements split.
    text = re.sub(r"--[^\n]*", "", (MIGRATIONS / name).read_text())
    statements = text.split(";")
    with database.unit_of_work() as uow:
        for statement in statements:
            if statement.strip():
                uow.execute(statement)
        uow.commit()


def schema(database: Database) -> tuple[set[tuple[str, str]], bool]:
    with database.read_only() as uow:
        rows = uow.fetch_all(
            "SELECT DISTINCT table_name AS t, index_name AS i FROM information_schema.statistics "
            "WHERE table_schema = DATABASE() AND table_name IN ('tasks', 'quota_ledger', 'uploads')"
        )
        table = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name = 'rollups'"
        )
    assert table is not None
    return {(row["t"], row["i"]) for row in rows} & ADDED, int(table["n"]) == 1


def test_the_rollback_undoes_0017_and_the_migration_applies_again(stack: Stack) -> None:
    database = get_database()
    assert schema(database) == (ADDED, True)
    run_script(database, "0017.rollups.rollback.sql")
    try:
        assert schema(database) == (set(), False)
    finally:
        run_script(database, "0017.rollups.sql")
    assert schema(database) == (ADDED, True)
