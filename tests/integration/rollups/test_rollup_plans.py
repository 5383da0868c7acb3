"""The plans of the rollup job's range reads and the admin task list (real MariaDB): each
reads the index meant for it, and none sorts (no filesort), so their cost follows the range
or the page, not the size of `tasks`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from retouch.admin.repository import _NEWEST, _STEPS
from retouch.core.db import Database, get_database
from retouch.rollups.sources import RANGE_READS
from tests.conftest import Stack

pytestmark = pytest.mark.integration

START, END = datetime(2030, 1, 1, 10), datetime(2030, 1, 1, 11)


@pytest.fixture
def database(stack: Stack) -> Database:
    return get_database()


def plan(database: Database, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    with database.read_only() as uow:
        return uow.fetch_all("EXPLAIN " + sql, params)


def first(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return rows[0]


@pytest.mark.parametrize(
    ("read", "index"),
    [
        ("ended", "ix_tasks_finished"),
        ("created", "ix_tasks_created"),
        ("active", "ix_tasks_created"),
        ("moved", "ix_quota_ledger_created"),
        ("charged", "ix_quota_ledger_created"),
        ("uploads", "ix_uploads_created"),
    ],
)
def test_each_rollup_read_is_a_range_of_its_index(
    database: Database, read: str, index: str
) -> None:
    rows = plan(database, RANGE_READS[read], (START, END))
    assert first(rows)["key"] == index, rows
    assert first(rows)["type"] == "range", rows


@pytest.mark.parametrize("filters", list(_NEWEST))
def test_the_admin_task_list_without_a_user_reads_an_index_in_id_order(
    database: Database, filters: tuple[bool, bool]
) -> None:
    index, where = _NEWEST[filters]
    params = tuple(v for v, on in (("failed", filters[0]), ("cutout", filters[1])) if on)
    rows = plan(
        database,
        f"SELECT t.id FROM tasks t FORCE INDEX ({index}) JOIN users u ON u.id = t.user_id "  # noqa: S608
        f"WHERE {where} AND t.id < %s ORDER BY t.id DESC LIMIT 21",
        (*params, 2**40),
    )
    tasks = next(row for row in rows if row["table"] == "t")
    assert tasks["key"] == index, rows
    assert "filesort" not in (tasks["Extra"] or ""), rows


def test_a_tasks_steps_are_read_by_the_task_key(database: Database) -> None:
    rows = plan(database, _STEPS, (1,))
    assert first(rows)["key"] == "uq_task_steps_task_index", rows
    assert "filesort" not in (first(rows)["Extra"] or ""), rows


def test_a_series_reads_the_primary_key_in_order(database: Database) -> None:
    rows = plan(
        database,
        "SELECT period_start, value FROM rollups WHERE grain = %s AND metric = %s "
        "AND period_start >= %s AND period_start < %s AND feature_key = %s "
        "AND provider_key = %s ORDER BY period_start",
        ("hour", "tasks_created", START, END, "*", "*"),
    )
    assert first(rows)["key"] == "PRIMARY", rows
    assert "filesort" not in (first(rows)["Extra"] or ""), rows
