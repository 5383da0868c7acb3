"""Query plans under test: every statement of the catalogue (tests/sql_catalogue_plugin.py),
explained (`EXPLAIN FORMAT=JSON`) against a database filled with realistic volumes, passes
unless listed with a reason in `allowed.json`.

A plan fails when it reads the whole of a large table (access `ALL`, or `index`: every entry
of an index) or, for a statement a user-facing request sends, sorts with a filesort. Large is
what the fill makes large: 100,000 tasks of 10,000 users by the task generator
(scripts/bench/generate_tasks.py; the variable PLANS_TASKS scales both) and 30,000 rows in
each table the jobs purge. docs/performance.md ("Query plans") lists the hot statements with
their index.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql
import pytest

from retouch.core.db import get_database
from scripts.bench.generate_tasks import generate
from tests.conftest import Stack
from tests.sql_catalogue_plugin import load_catalogue

pytestmark = pytest.mark.integration

HERE = Path(__file__).resolve().parent
ALLOWED: dict[str, str] = json.loads((HERE / "allowed.json").read_text())
TASKS = int(os.environ.get("PLANS_TASKS", "100000"))
SIDE_ROWS = 30_000
#: A table with at least this many rows is large: reading all of it fails a plan.
LARGE_ROWS = 10_000
NO_SUCH_TABLE = 1146
ENTRIES = sorted(load_catalogue().values(), key=lambda entry: entry["digest"])

#: Rows for the tables the jobs purge, made by the server from its sequence engine.
SIDE_FILLS = (
    "INSERT INTO outbox (queue_name, body, created_at, published_at) "
    "SELECT 'steps-prepare', '{}', NOW(3) - INTERVAL seq MINUTE, "
    "IF(seq % 100 = 0, NULL, NOW(3) - INTERVAL seq MINUTE) FROM seq_1_to_{n}",
    "INSERT INTO audit_logs (action, target_type, target_id, request_id, created_at) "
    "SELECT 'feature.update', 'feature', CONCAT('f', seq % 50), CONCAT('req-', seq), "
    "NOW(3) - INTERVAL seq MINUTE FROM seq_1_to_{n}",
    "INSERT INTO provider_events (provider_key, event_id, received_at) "
    "SELECT 'local', CONCAT('evt-', seq), NOW(3) - INTERVAL seq MINUTE FROM seq_1_to_{n}",
    "INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at) "
    "SELECT SHA2(CONCAT('t', seq), 256), CONCAT('fam_', seq), u.id, "
    "NOW(3) - INTERVAL seq MINUTE, NOW(3) - INTERVAL seq MINUTE + INTERVAL 30 DAY "
    "FROM seq_1_to_{n} JOIN users u ON u.id = (SELECT MIN(id) FROM users) + seq % 1000",
    *(
        f"INSERT INTO {table} (token_hash, user_id, created_at, expires_at, used_at) "  # noqa: S608 - fixed tables
        f"SELECT SHA2(CONCAT('{table}', seq), 256), u.id, NOW(3) - INTERVAL seq MINUTE, "
        "NOW(3) - INTERVAL seq MINUTE + INTERVAL 1 DAY, "
        "IF(seq % 3 = 0, NOW(3) - INTERVAL seq MINUTE, NULL) "
        "FROM seq_1_to_{n} JOIN users u ON u.id = (SELECT MIN(id) FROM users) + seq % 1000"
        for table in ("email_verifications", "password_resets")
    ),
)


@dataclass(frozen=True)
class Filled:
    large: frozenset[str]
    seconds: float
    counts: dict[str, int]


@pytest.fixture(scope="module")
def filled(private_stack: Stack) -> Iterator[Filled]:
    """The private database with its realistic volumes (about a minute on a 2-core machine)."""
    started = time.monotonic()
    database = get_database("job")
    generate(database, rows=TASKS, user_rows=5_000, users=TASKS // 10, stream=io.StringIO())
    connection = database.connection()
    with connection.cursor() as cursor:
        for fill in SIDE_FILLS:
            cursor.execute(fill.replace("{n}", str(SIDE_ROWS)))
        cursor.execute(
            "SELECT table_name AS name FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE'"
        )
        tables = [row["name"] for row in cursor.fetchall()]
        counts = {}
        for table in tables:
            cursor.execute(f"ANALYZE TABLE `{table}`")
            cursor.fetchall()
            cursor.execute(f"SELECT COUNT(*) AS n FROM `{table}`")  # noqa: S608
            counts[table] = int(cursor.fetchone()["n"])
    large = frozenset(table for table, count in counts.items() if count >= LARGE_ROWS)
    yield Filled(large=large, seconds=time.monotonic() - started, counts=counts)


class ScratchTable(Exception):
    """The statement reads a table the schema does not have: one a test created for itself."""


def explain(entry: dict[str, Any]) -> dict[str, Any] | None:
    """The plan of the catalogued statement with its recorded parameters; None for a
    statement with no plan to speak of (INSERT … VALUES); `ScratchTable` for one on a table
    the migrations never created."""
    sql: str = entry["sql"]
    words = sql.lstrip().upper()
    if words.startswith(("INSERT", "REPLACE")) and "SELECT" not in words:
        return None
    connection = get_database("job").connection()
    params = entry["params"]
    text = connection.cursor().mogrify(sql, tuple(params) if isinstance(params, list) else params)
    with connection.cursor() as cursor:
        try:
            cursor.execute("EXPLAIN FORMAT=JSON " + text)
        except pymysql.err.ProgrammingError as exc:
            if exc.args[0] == NO_SUCH_TABLE:
                raise ScratchTable(str(exc.args[1])) from exc
            raise
        row = cursor.fetchone()
    return json.loads(next(iter(row.values())))  # type: ignore[no-any-return]


def plan_problems(plan: Any, *, large: frozenset[str], user_facing: bool) -> list[str]:
    """Full reads of large tables anywhere in `plan`, and filesorts when `user_facing`."""
    problems: list[str] = []
    stack = [plan]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        table = node.get("table")
        if isinstance(table, dict):
            name, access = table.get("table_name"), table.get("access_type")
            if name in large and access in ("ALL", "index"):
                problems.append(f"full {'scan' if access == 'ALL' else 'index scan'} of {name}")
        if user_facing and ("filesort" in node or node.get("using_filesort")):
            problems.append("filesort on a user-facing path")
        stack.extend(node.values())
    return sorted(set(problems))


def test_the_fill_is_large_and_quick_enough(filled: Filled) -> None:
    assert {
        "tasks",
        "users",
        "outbox",
        "audit_logs",
        "refresh_tokens",
        "email_verifications",
        "password_resets",
    } <= filled.large
    assert filled.counts["tasks"] >= TASKS
    # Recorded for docs/performance.md; generous on a shared machine.
    assert filled.seconds < 240


def test_every_allowed_statement_is_catalogued_with_a_reason() -> None:
    catalogued = {entry["digest"] for entry in ENTRIES}
    for digest, reason in ALLOWED.items():
        assert digest in catalogued, f"allowed but not in the catalogue: {digest}"
        assert len(reason) >= 20, f"give a reason: {digest}"


def test_a_scan_and_a_sort_of_a_large_table_are_caught(filled: Filled) -> None:
    # GIVEN a statement no index serves, sorted by a column no index orders
    entry = {"sql": "SELECT id FROM tasks WHERE cost + 0 = %s ORDER BY cost", "params": [3]}

    # THEN both are reported on a user-facing path, only the scan on a job's
    plan = explain(entry)
    assert plan_problems(plan, large=filled.large, user_facing=True) == [
        "filesort on a user-facing path",
        "full scan of tasks",
    ]
    assert plan_problems(plan, large=filled.large, user_facing=False) == ["full scan of tasks"]


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry["digest"][:90])
def test_the_plan_reads_no_large_table_whole_and_sorts_no_request(
    filled: Filled, entry: dict[str, Any]
) -> None:
    try:
        plan = explain(entry)
    except ScratchTable as scratch:
        # A test's own table (tests/integration/storage/test_db.py's uow_probe): never one of
        # the schema's, so never a product statement.
        assert not any(f".{table}'" in str(scratch) for table in filled.counts), scratch
        return
    problems = plan_problems(plan, large=filled.large, user_facing=entry["user_facing"])
    if entry["digest"] in ALLOWED:
        assert problems, f"allowed, yet its plan is fine now: drop it from allowed.json: {plan}"
    else:
        assert not problems, f"{problems}: {entry['digest']}\n{json.dumps(plan, indent=1)}"
