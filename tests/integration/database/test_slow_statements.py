"""Slow statements against the real MariaDB: the DB layer's `slow statement` line and metric,
MariaDB's own slow log, the digest `scripts/slow-queries` prints from either, and the server-side
limit of a user-facing read."""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient

from retouch.core.db import StatementTimedOut, get_database
from retouch.core.request_context import RequestIds, bind_request_ids, unbind_request_ids
from scripts.local import slow_queries
from tests.conftest import LogLines, Stack
from tests.fakes.metrics import MemorySink
from tests.integration.catalog_api_support import catalog_app, fresh_feature

pytestmark = pytest.mark.integration

SLOW_SQL = "SELECT SLEEP(%s) AS slept, %s AS label"
DIGEST = "SELECT SLEEP(?) AS slept, ? AS label"


def test_a_slow_statement_is_logged_counted_and_digested(
    stack: Stack, log_lines: LogLines, sink: MemorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a 100 ms threshold, and a request being served
    monkeypatch.setenv("RETOUCH_DB_SLOW_MS", "100")
    token = bind_request_ids(RequestIds("req-slow-statement", None))

    # WHEN a statement takes 300 ms, and a fast one follows
    try:
        with get_database("job").read_only() as uow:
            uow.fetch_one(SLOW_SQL, (0.3, "private-literal"))
            uow.fetch_one("SELECT 1 AS fast")
    finally:
        unbind_request_ids(token)

    # THEN one line reports it by digest, never with its values
    [line] = log_lines.with_message("slow statement")
    assert line["digest"] == DIGEST
    assert line["duration_ms"] >= 290
    assert line["rows"] == 1
    assert line["use"] == "job"
    assert line["request_id"] == "req-slow-statement"
    assert "private-literal" not in str(line)
    # AND it is counted
    assert [name for name, *_ in sink.pending].count("DbSlowStatement") == 1

    # AND the digest of our log lines puts it first
    lines = [line_text for line_text in _json_lines(log_lines)]
    [first, *_] = slow_queries.digest(slow_queries.entries(lines))
    assert first.statement == DIGEST
    assert first.durations[0] >= 290
    assert DIGEST in slow_queries.render([first], top=5)


def test_a_slow_statement_inside_a_request_names_its_route_and_request(
    stack: Stack, log_lines: LogLines, sink: MemorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a threshold every statement passes, and a feature the cache has never loaded
    monkeypatch.setenv("RETOUCH_DB_SLOW_MS", "0.001")
    key = fresh_feature()
    before = len(log_lines.with_message("slow statement"))

    # WHEN a request reads it
    with TestClient(catalog_app(), raise_server_exceptions=False) as client:
        response = client.get(f"/v1/features/{key}")
    assert response.status_code == 200

    # THEN its slow statements name the route template and the request
    lines = log_lines.with_message("slow statement")[before:]
    assert lines
    for line in lines:
        assert line["route"] == "/v1/features/{key}"
        assert line["request_id"] == response.headers["x-request-id"]
        assert key not in str(line)
    # AND the metric carries the route as a dimension
    sent = [*sink.pending, *sink.delivered()]
    routes = {dims.get("route") for name, _, _, dims in sent if name == "DbSlowStatement"}
    assert "/v1/features/{key}" in routes


def test_a_slow_statement_of_a_job_names_its_function(
    stack: Stack, log_lines: LogLines, sink: MemorySink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a job invocation (no request), on a platform that names the function
    monkeypatch.setenv("RETOUCH_DB_SLOW_MS", "100")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "retouch-BackupFunction")

    # WHEN its statement is slow
    with get_database("job").read_only() as uow:
        uow.fetch_one(SLOW_SQL, (0.2, "job-literal"))

    # THEN the line names the function and no route or request
    [line] = log_lines.with_message("slow statement")
    assert (line["function"], line.get("route"), line.get("request_id")) == (
        "retouch-BackupFunction",
        None,
        None,
    )
    routes = {dims.get("route") for name, _, _, dims in sink.pending if name == "DbSlowStatement"}
    assert routes == {"retouch-BackupFunction"}


def test_mariadb_slow_log_holds_the_statement_and_digests_it(stack: Stack) -> None:
    # GIVEN the session's MariaDB, whose slow log starts at RETOUCH_DB_SLOW_MS (250 ms default)
    assert 0 < stack.mariadb.slow_log_s <= 0.25

    # WHEN a statement sleeps past the threshold
    with get_database("job").read_only() as uow:
        uow.fetch_one(SLOW_SQL, (0.4, "logged-by-mariadb"))

    # THEN MariaDB logged it, and the digest groups it under its shape
    text = _eventually_contains(stack.mariadb.slow_log_path, "logged-by-mariadb")
    digests = slow_queries.digest(slow_queries.entries(text.splitlines()))
    matching = [group for group in digests if group.statement == DIGEST]
    assert matching
    assert max(matching[0].durations) >= 390


def test_a_user_facing_read_is_cut_at_the_statement_timeout(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a 0.3 s limit on user-facing reads
    monkeypatch.setenv("RETOUCH_DB_STATEMENT_TIMEOUT_S", "0.3")
    heavy = "SELECT SLEEP(%s) AS slept"

    # WHEN a request's read would run for 3 s
    started = time.perf_counter()
    with pytest.raises(StatementTimedOut) as raised, get_database().read_only() as uow:
        uow.fetch_one(heavy, (3,))

    # THEN the server cut it near the limit, as a 503, and the connection still serves
    assert time.perf_counter() - started < 1.5
    assert raised.value.error_code.status == 503
    with get_database().read_only() as uow:
        assert uow.fetch_one("SELECT 1 AS ok") == {"ok": 1}
    # AND a job's read has no such limit
    with get_database("job").read_only() as uow:
        assert uow.fetch_one(heavy, (0.5,)) == {"slept": 0}


def _json_lines(log_lines: LogLines) -> list[str]:
    import json

    return [json.dumps(line) for line in log_lines.all()]


def _eventually_contains(path: object, needle: str) -> str:
    from pathlib import Path

    assert isinstance(path, Path)
    deadline = time.monotonic() + 5
    text = ""
    while time.monotonic() < deadline:
        text = path.read_text() if path.exists() else ""
        if needle in text:
            break
        time.sleep(0.1)
    return text
