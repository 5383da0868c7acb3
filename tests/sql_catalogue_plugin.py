"""Pytest plugin: every distinct SQL statement the suite sends through our DB layer, kept in a
committed catalogue whose every entry the plans test explains (tests/integration/plans).

Registered by `tests/conftest.py` beside the log and leak scans.

- **Collection**: an observer in `retouch.core.db_statements.OBSERVERS` sees each statement
  before it is sent, from every function, job and step the suite runs in this process; it is
  kept by digest (`normalise`: literals as `?`, IN-lists and VALUES rows collapsed), with the
  SQL and parameters of its first sighting (the plans test explains that, with values of the
  right types), the test that sent it, and whether a user-facing request (`use` `request`)
  ever sent it.
- **Catalogue**: `tests/integration/plans/statements.jsonl`, one JSON object per digest,
  sorted. `SQL_CATALOGUE=update scripts/test tests/integration` adds the statements
  the run saw and the catalogue lacks (nothing is removed: another directory's statements stay).
- **Outcome**: at the session's end, the digests the run sent that the catalogue lacks are
  listed ("sql catalogue"), each with the test that sent it; with `SQL_CATALOGUE=strict`
  they fail the run even when every test passed, so new SQL must be catalogued, and is then
  explained. CI runs strict (`.ci/run`).

Cataloguing new statements (after a change, or a merge of branches that each added some) is
two commands, and the failure message prints them with the tests to name:

    SQL_CATALOGUE=update scripts/test <the tests that sent them, or tests/integration>
    scripts/test tests/integration/plans

The first adds the new digests to `statements.jsonl` (commit it); the second explains every
catalogued statement against the filled database. A plan that reads a large table whole or
sorts a request's rows fails there: add the index (a migration) or rewrite the statement, or
list its digest in `tests/integration/plans/allowed.json` with the reason it is acceptable.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from retouch.core.db_statements import OBSERVERS, normalise
from tests.leak_scan_plugin import RECORDER as BODIES

CATALOGUE = Path(__file__).resolve().parent / "integration" / "plans" / "statements.jsonl"
MODE_VARIABLE = "SQL_CATALOGUE"
#: Not explained: transaction control, session settings, DDL, and a test's own EXPLAIN.
_SKIPPED = (
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SET ",
    "SHOW ",
    "CREATE ",
    "DROP ",
    "ALTER ",
    "EXPLAIN ",
)


@dataclass
class Statement:
    """One digest: the SQL and parameters first seen, who sent it, whether a request did."""

    digest: str
    sql: str
    params: Any
    test: str
    user_facing: bool


def _plain(value: Any) -> Any:
    """`value` as JSON can hold it (datetimes as ISO text, which MySQL compares as such)."""
    if isinstance(value, datetime | date):
        return value.isoformat(sep=" ") if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


class StatementRecorder:
    """Keeps each digest once (the observer's hot path: one dict lookup per statement)."""

    def __init__(self) -> None:
        self.seen: dict[str, Statement] = {}

    def observe(self, sql: str, params: Any, use: str) -> None:
        digest = normalise(sql)
        found = self.seen.get(digest)
        if found is None:
            if sql.lstrip().upper().startswith(_SKIPPED):
                return
            self.seen[digest] = Statement(
                digest, sql, _plain(params), BODIES.current_test, use == "request"
            )
        elif use == "request":
            found.user_facing = True

    def missing(self, catalogue: dict[str, dict[str, Any]]) -> list[Statement]:
        return [self.seen[digest] for digest in sorted(set(self.seen) - set(catalogue))]


def load_catalogue(path: Path = CATALOGUE) -> dict[str, dict[str, Any]]:
    """The committed catalogue by digest (empty when there is none yet)."""
    if not path.exists():
        return {}
    entries = (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    return {entry["digest"]: entry for entry in entries}


def update_catalogue(recorder: StatementRecorder, path: Path = CATALOGUE) -> int:
    """Add the run's new digests to the catalogue (and mark user-facing ones); how many."""
    catalogue = load_catalogue(path)
    added = recorder.missing(catalogue)
    for statement in added:
        catalogue[statement.digest] = asdict(statement)
    for digest, statement in recorder.seen.items():
        if statement.user_facing:
            catalogue[digest]["user_facing"] = True
    lines = [json.dumps(catalogue[digest], ensure_ascii=False) for digest in sorted(catalogue)]
    path.write_text("\n".join(lines) + "\n")
    return len(added)


def how_to_catalogue(missing: list[Statement]) -> list[str]:
    """The commands that catalogue `missing` and explain them (the module docstring)."""
    tests = sorted({statement.test.split("[", 1)[0] for statement in missing if statement.test})
    named = " ".join(tests) if 0 < len(tests) <= 10 else "tests/integration"
    return [
        f"{len(missing)} statement(s) not in {CATALOGUE.relative_to(CATALOGUE.parents[3])}; "
        "catalogue and explain them:",
        f"  {MODE_VARIABLE}=update scripts/test {named}",
        "  scripts/test tests/integration/plans",
        "then commit statements.jsonl (a failing plan: index, rewrite, or allowed.json with a "
        "reason; see tests/sql_catalogue_plugin.py)",
    ]


RECORDER = StatementRecorder()


@pytest.hookimpl
def pytest_configure(config: pytest.Config) -> None:
    OBSERVERS.append(RECORDER.observe)


@pytest.hookimpl
def pytest_unconfigure(config: pytest.Config) -> None:
    if RECORDER.observe in OBSERVERS:
        OBSERVERS.remove(RECORDER.observe)


@pytest.hookimpl
def pytest_sessionfinish(session: pytest.Session) -> None:
    mode = os.environ.get(MODE_VARIABLE, "report")
    if mode == "update" and RECORDER.seen:
        update_catalogue(RECORDER)
    elif (
        mode == "strict"
        and RECORDER.missing(load_catalogue())
        and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl
def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RECORDER.seen:
        return
    missing = RECORDER.missing(load_catalogue())
    if missing and os.environ.get(MODE_VARIABLE) != "update":
        terminalreporter.section("sql catalogue", red=True)
        for statement in missing:
            terminalreporter.write_line(f"{statement.test}: {statement.digest[:200]}")
        for line in how_to_catalogue(missing):
            terminalreporter.write_line(line)
        if os.environ.get(MODE_VARIABLE) == "strict":
            terminalreporter.write_line(
                f"{MODE_VARIABLE}=strict: the run fails until they are catalogued"
            )
    terminalreporter.write_line(
        f"sql catalogue: {len(RECORDER.seen)} statements, {len(missing)} not catalogued"
    )
