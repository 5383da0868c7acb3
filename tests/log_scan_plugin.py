"""Pytest plugin: keep every log line the suite writes, scan them all at the end.

Registered by `tests/conftest.py` beside the leak scan (`tests/leak_scan_plugin.py`), whose
recorder it reads. The leak scan holds response bodies to DESIGN §3; this holds the log to
§8: no password, token, secret or full email address in any line, whoever wrote it.

- **Collection**: a handler on the retouch logger, formatting with the logger's own formatter
  (`logger.registered_formatter`, the redacting one), so it sees exactly the JSON the
  platform's log would receive, from every function, job and step the suite runs in this
  process (lines written by subprocesses, e.g. `scripts/invoke`, are not seen). Each line is
  kept with the test that was running.
- **Rules** (`scan_line`): a JSON line without a `category` from `CATEGORIES` (access,
  security, business, vendor, system); a password the tests use (`TEST_PASSWORDS`); a JWT; `Bearer `
  followed by anything but the mask; a full email address (the masked `m***@example.com`
  passes); any refresh or access token a response of the suite carried (collected from the
  leak scan's bodies: `refresh_token`, `access_token`).
- **Outcome**: at the session's end every line is scanned; each finding prints its test, the
  rule and the line (truncated), and fails the run even when every test passed.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from retouch.core.logging import CATEGORIES, logger
from tests.leak_scan_plugin import RECORDER as BODIES

SHOWN_LINE_CHARS = 240

#: The passwords the suite signs up and signs in with (tests/integration/identity_support.py
#: PASSWORD and the literals of the auth, quota, invoke and sample-event tests).
TEST_PASSWORDS = (
    "Correct-Horse-7",
    "Mei.Chen2024",
    "Quota-test-9",
    "Sample-Events-1",
    "Invoke-Pass-42",
)
TOKEN_KEYS = frozenset({"access_token", "refresh_token"})

_PATTERNS = {
    "jwt": re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]+", re.ASCII),
    "bearer": re.compile(r"Bearer\s+(?!\*\*\*)[^\s\"\\]"),
    "email": re.compile(r"(?<![\w.%+*-])[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}", re.ASCII),
}
_TOKEN_SHAPED = re.compile(r"[\w-]{20,}", re.ASCII)


def scan_line(line: str, *, issued_tokens: frozenset[str] = frozenset()) -> list[str]:
    """The rules `line` breaks (empty: clean)."""
    found = [f"password {password[:3]}…" for password in TEST_PASSWORDS if password in line]
    if _category_of(line) not in CATEGORIES:
        found.append("category")
    found += [name for name, pattern in _PATTERNS.items() if pattern.search(line)]
    if issued_tokens and any(run in issued_tokens for run in _TOKEN_SHAPED.findall(line)):
        found.append("issued-token")
    return found


def _category_of(line: str) -> object:
    """The `category` of a JSON line; a line that is not a JSON object is not judged."""
    try:
        entry = json.loads(line)
    except ValueError:
        return "system"
    return entry.get("category") if isinstance(entry, dict) else "system"


def issued_tokens(bodies: Iterable[Any]) -> frozenset[str]:
    """Every access and refresh token in `bodies` (response JSON), at any depth."""
    tokens: set[str] = set()
    stack = list(bodies)
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if key in TOKEN_KEYS and isinstance(item, str):
                    tokens.add(item)
                else:
                    stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
    return frozenset(tokens)


@dataclass(frozen=True)
class Finding:
    test: str
    rule: str
    line: str


class LogRecorder(logging.Handler):
    """Keeps every formatted line of the retouch logger with the test that wrote it."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[tuple[str, str]] = []
        self.findings: list[Finding] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append((BODIES.current_test, self.format(record)))
        except Exception:  # noqa: BLE001 - a line that cannot be formatted is not written either
            return

    def scan_all(self) -> None:
        tokens = issued_tokens(capture.body for capture in BODIES.captures)
        self.findings = [
            Finding(test, rule, line)
            for test, line in self.lines
            for rule in scan_line(line, issued_tokens=tokens)
        ]


RECORDER = LogRecorder()


@pytest.hookimpl
def pytest_configure(config: pytest.Config) -> None:
    RECORDER.setFormatter(logger.registered_formatter)
    logging.getLogger(logger.name).addHandler(RECORDER)


@pytest.hookimpl
def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger(logger.name).removeHandler(RECORDER)


@pytest.hookimpl
def pytest_sessionfinish(session: pytest.Session) -> None:
    RECORDER.scan_all()
    if RECORDER.findings and session.exitstatus in (
        pytest.ExitCode.OK,
        pytest.ExitCode.NO_TESTS_COLLECTED,
    ):
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl
def pytest_terminal_summary(terminalreporter: Any) -> None:
    if RECORDER.findings:
        terminalreporter.section("log scan", red=True)
        for finding in RECORDER.findings:
            line = finding.line
            if len(line) > SHOWN_LINE_CHARS:
                line = line[:SHOWN_LINE_CHARS] + "…"
            terminalreporter.write_line(f"{finding.test}: {finding.rule}: {line}")
    terminalreporter.write_line(
        f"log scan: {len(RECORDER.lines)} log lines, {len(RECORDER.findings)} findings"
    )
