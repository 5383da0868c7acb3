"""The SQL catalogue plugin: statements kept once by digest, user-facing when a request sent
them, and only the new ones added to the catalogue."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from tests.sql_catalogue_plugin import (
    StatementRecorder,
    how_to_catalogue,
    load_catalogue,
    update_catalogue,
)


def test_a_statement_is_kept_once_with_its_first_values_and_marked_if_a_request_sent_it() -> None:
    recorder = StatementRecorder()

    recorder.observe("SELECT * FROM tasks WHERE id = %s", (7,), "job")
    recorder.observe("SELECT * FROM tasks WHERE id = %s", (8,), "request")
    recorder.observe("BEGIN", None, "request")
    recorder.observe(
        "SELECT id FROM outbox WHERE created_at < %s", (datetime(2026, 1, 2, 3, 4, 5),), "job"
    )

    assert sorted(recorder.seen) == [
        "SELECT * FROM tasks WHERE id = ?",
        "SELECT id FROM outbox WHERE created_at < ?",
    ]
    task = recorder.seen["SELECT * FROM tasks WHERE id = ?"]
    assert (task.params, task.user_facing) == ([7], True)
    outbox = recorder.seen["SELECT id FROM outbox WHERE created_at < ?"]
    assert (outbox.params, outbox.user_facing) == (["2026-01-02 03:04:05"], False)


def test_an_update_adds_the_new_statements_and_keeps_the_others(tmp_path: Path) -> None:
    catalogue = tmp_path / "statements.jsonl"
    first, second = StatementRecorder(), StatementRecorder()
    first.observe("SELECT 1 FROM users WHERE id = %s", (1,), "job")
    second.observe("SELECT 1 FROM tasks WHERE id = %s", (2,), "request")
    second.observe("SELECT 1 FROM users WHERE id = %s", (3,), "request")

    assert update_catalogue(first, catalogue) == 1
    assert [s.digest for s in second.missing(load_catalogue(catalogue))] == [
        "SELECT ? FROM tasks WHERE id = ?"
    ]
    assert update_catalogue(second, catalogue) == 1

    entries = load_catalogue(catalogue)
    assert sorted(entries) == [
        "SELECT ? FROM tasks WHERE id = ?",
        "SELECT ? FROM users WHERE id = ?",
    ]
    users = entries["SELECT ? FROM users WHERE id = ?"]
    assert (users["params"], users["user_facing"]) == ([1], True)
    assert second.missing(load_catalogue(catalogue)) == []


def test_the_failure_names_the_commands_and_the_tests_that_sent_the_new_statements() -> None:
    recorder = StatementRecorder()
    recorder.observe("SELECT 1 FROM users WHERE id = %s", (1,), "job")
    [statement] = recorder.missing({})
    statement.test = "tests/integration/users/test_me.py::test_read[en]"

    lines = how_to_catalogue([statement])

    assert "  SQL_CATALOGUE=update scripts/test tests/integration/users/test_me.py::test_read" in (
        lines
    )
    assert "  scripts/test tests/integration/plans" in lines
    assert "tests/integration/plans/statements.jsonl" in lines[0]
