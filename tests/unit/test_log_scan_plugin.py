"""The log scan: its rules fire on leaking lines and pass redacted ones, and the plugin in a
pytest run of its own fails a run whose tests pass when one of them logged a secret."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scripts.local.lambda_runtime import ROOT
from tests.log_scan_plugin import issued_tokens, scan_line
from tests.unit.processes import Command, Started, declare

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c3JfMSJ9.c2lnbmF0dXJl"
REFRESH = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCd7"


@pytest.mark.parametrize(
    ("line", "rule"),
    [
        ('{"message":"sign-in with Correct-Horse-7"}', "password Cor…"),
        (f'{{"message":"token {JWT}"}}', "jwt"),
        ('{"authorization":"Bearer abc"}', "bearer"),
        ('{"message":"login failed for mei.chen@example.com"}', "email"),
        (f'{{"message":"presented {REFRESH}"}}', "issued-token"),
        ('{"message":"no category"}', "category"),
        ('{"message":"unknown category","category":"misc"}', "category"),
    ],
)
def test_each_rule_fires_on_a_leaking_line(line: str, rule: str) -> None:
    assert rule in scan_line(line, issued_tokens=frozenset({REFRESH}))


def test_a_redacted_line_is_clean() -> None:
    line = (
        '{"message":"login failed for m***@example.com","password":"***","category":"security",'
        '"authorization":"Bearer ***","user_id":"usr_0123456789abcdefghijkl"}'
    )

    assert scan_line(line, issued_tokens=frozenset({REFRESH})) == []


def test_issued_tokens_are_collected_from_response_bodies_at_any_depth() -> None:
    bodies = [
        {"user": {"id": "usr_1"}, "access_token": JWT, "refresh_token": REFRESH},
        [{"nested": {"refresh_token": "r2"}}],
        "not a dict",
    ]

    assert issued_tokens(bodies) == {JWT, REFRESH, "r2"}


RUNS = {
    # a passing test that logs the password it signs in with, in free text
    "leak": (
        "from retouch.core.logging import logger\n\n"
        "def test_signs_in():\n"
        "    logger.info('signing in with Correct-Horse-7')\n"
    ),
    # the same secrets handed to the logger as keys and in a JWT: redacted, so clean
    "clean": (
        "from retouch.core.logging import logger\n\n"
        "def test_signs_in():\n"
        "    logger.info('signing in', extra={'password': 'Correct-Horse-7'})\n"
        f"    logger.info('token {JWT} for ann@example.com')\n"
    ),
}


def _run(test_source: str) -> Callable[[Path], Command]:
    def build(folder: Path) -> Command:
        (folder / "test_probe.py").write_text(test_source)
        paths = os.pathsep.join([str(ROOT), str(ROOT / "layers/retouch")])
        plugins = ["-p", "tests.leak_scan_plugin", "-p", "tests.log_scan_plugin"]
        command = [sys.executable, "-m", "pytest", *plugins, "-q"]
        args = [*command, "-c", os.devnull, "--rootdir", str(folder), str(folder)]
        return Command(args=args, env={**os.environ, "PYTHONPATH": paths}, cwd=folder)

    return build


for _name, _source in RUNS.items():  # each run beside the other tests
    declare(f"log-scan:{_name}", _run(_source), module=__name__)


def test_a_logged_password_fails_a_run_whose_tests_pass(background: Started) -> None:
    result = background.result("log-scan:leak")

    assert result.returncode == 1, result.stdout
    assert "1 passed" in result.stdout
    assert "test_probe.py::test_signs_in: password Cor…:" in result.stdout
    assert "log scan: 1 log lines, 1 findings" in result.stdout


def test_redacted_lines_pass_the_run(background: Started) -> None:
    result = background.result("log-scan:clean")

    assert result.returncode == 0, result.stdout
    assert "log scan: 2 log lines, 0 findings" in result.stdout
