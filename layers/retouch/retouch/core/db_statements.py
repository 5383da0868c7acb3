"""What the DB layer says about its statements: the normalised digest of a statement, the
`slow statement` log line and `DbSlowStatement` metric, the connection metrics, and the
observers a test harness registers to see every statement (tests/sql_catalogue_plugin.py).

The layer times every statement with one `perf_counter` pair; only one over
RETOUCH_DB_SLOW_MS reaches this module (`report_slow`), so the warm path pays nothing more.
The digest is the statement with its literals and placeholders as `?`, IN-lists and
multi-row VALUES collapsed and whitespace folded: one digest per statement shape, never a
value (no personal data reaches the log through it).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from retouch.core.logging import logger
from retouch.core.metrics import MetricUnit, emit
from retouch.core.request_context import current_request_ids, current_route

#: Called with each statement's SQL text and parameters as the caller wrote them, and the
#: use of its database (`request`, `health`, `job`), before it is sent.
StatementObserver = Callable[[str, Any, str], None]
OBSERVERS: list[StatementObserver] = []

SLOW_STATEMENT = "DbSlowStatement"
CONNECTIONS = "DbConnections"
RECONNECTS = "DbReconnects"
STATEMENT_TIMEOUTS = "DbStatementTimeouts"

_STRING = re.compile(r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.)*\"")
_PLACEHOLDER = re.compile(r"%\(\w+\)s|%s")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w.])", re.IGNORECASE)
_SPACE = re.compile(r"\s+")
_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_ROWS = re.compile(r"(\(\?\+?\))(?:\s*,\s*\(\?\+?\))+")


@lru_cache(maxsize=2048)
def normalise(sql: str) -> str:
    """The digest of `sql`: literals and placeholders → `?`, `(?, ?, …)` → `(?+)`, repeated
    VALUES rows → one, whitespace folded, keywords as written."""
    text = _STRING.sub("?", sql)
    text = _PLACEHOLDER.sub("?", text)
    text = _NUMBER.sub("?", text)
    text = _SPACE.sub(" ", text).strip().rstrip(";")
    text = _LIST.sub("(?+)", text)
    return _ROWS.sub(r"\1", text)


def observe(sql: str, params: Any, use: str) -> None:
    """Hand the statement to every registered observer (none outside the test harness)."""
    for observer in OBSERVERS:
        observer(sql, params, use)


def _function_name() -> str | None:
    """The function running: the invocation's log key (HTTP functions and steps bind it from
    the platform's context, as the local runtime does), else the platform's variable (jobs)."""
    name = logger.thread_safe_get_current_keys().get("function_name")
    if isinstance(name, str) and name:
        return name
    return os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or os.environ.get("SCF_FUNCTIONNAME")


def report_slow(sql: str, elapsed_s: float, rows: int, use: str) -> None:
    """Log and count one statement that took `elapsed_s`, over the slow threshold: the line
    names the route template (a request's) or the function (a job's, a step's) and the request
    id, and so does the metric (`route` dimension: the template, else the function)."""
    ids = current_request_ids()
    route, function = current_route(), _function_name()
    logger.warning(
        "slow statement",
        extra={
            "digest": normalise(sql),
            "duration_ms": round(elapsed_s * 1000, 1),
            "rows": rows,
            "use": use,
            "route": route,
            "function": function,
            "request_id": ids.server if ids else None,
        },
    )
    where = route or function or "unknown"
    emit(SLOW_STATEMENT, 1, use=use, route=where)
    emit("DbSlowStatementMs", elapsed_s * 1000, unit=MetricUnit.Milliseconds, use=use, route=where)


def count_connection(use: str, *, reconnect: bool) -> None:
    """A connection was opened for `use`; a reconnect replaced one the server dropped."""
    emit(CONNECTIONS, 1, use=use)
    if reconnect:
        emit(RECONNECTS, 1, use=use)
