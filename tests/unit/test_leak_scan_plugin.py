"""The leak-scan plugin in a pytest run of its own: a leaking body fails the run, a clean one
passes it, and requests served with no body recorded mean the instrumentation broke."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

from scripts.local.lambda_runtime import ROOT
from tests.unit.processes import Command, Started, declare

APP = """
from fastapi import FastAPI
from starlette.testclient import TestClient

app = FastAPI()


@app.get("/v1/tasks/{key}")
def task(key: str) -> dict[str, object]:
    return {"id": 41 if key == "leak" else "tsk_1", "status": "queued"}


def client() -> TestClient:
    return TestClient(app)
"""


#: The probe test file of each run (one folder each).
RUNS = {
    # a test that passes while the app answers an internal numeric id
    "leak": (
        "from probe import client\n\n"
        "def test_reads_a_task():\n"
        "    assert client().get('/v1/tasks/leak').status_code == 200\n"
    ),
    "clean": (
        "from probe import client\n\n"
        "def test_reads_tasks():\n"
        "    for _ in range(3):\n"
        "        assert client().get('/v1/tasks/ok').json()['id'] == 'tsk_1'\n"
    ),
    # the app logs a served request that no instrumented client saw
    "unrecorded": (
        "from retouch.core.logging import logger\n\n"
        "def test_served_elsewhere():\n"
        "    logger.info('request', extra={'route': '/v1/me', 'status': 200})\n"
    ),
    # the same leaking body, once as a vendor's answer to a provider adapter
    "vendor": (
        "from probe import client\n\n"
        "def test_reads_a_task():\n"
        "    vendor = {'User-Agent': 'retouch-provider/simulator'}\n"
        "    assert client().get('/v1/tasks/leak', headers=vendor).status_code == 200\n"
        "    assert client().get('/v1/tasks/ok').status_code == 200\n"
    ),
}


def _run(test_source: str) -> Callable[[Path], Command]:
    """A pytest run with the plugin over `test_source` and the probe app, in `folder`."""

    def build(folder: Path) -> Command:
        (folder / "probe.py").write_text(APP)
        (folder / "test_probe.py").write_text(test_source)
        paths = os.pathsep.join([str(ROOT), str(ROOT / "layers/retouch")])
        command = [sys.executable, "-m", "pytest", "-p", "tests.leak_scan_plugin", "-q"]
        args = [*command, "-c", os.devnull, "--rootdir", str(folder), str(folder)]
        return Command(args=args, env={**os.environ, "PYTHONPATH": paths}, cwd=folder)

    return build


for _name, _source in RUNS.items():  # each run beside the other tests
    declare(f"leak-scan:{_name}", _run(_source), module=__name__)


def test_a_leaking_body_fails_a_run_whose_tests_pass(background: Started) -> None:
    result = background.result("leak-scan:leak")

    assert result.returncode == 1, result.stdout
    assert "1 passed" in result.stdout
    assert (
        "test_probe.py::test_reads_a_task: GET /v1/tasks/leak: internal-id at $.id: '41'"
        in result.stdout
    )
    assert "leak scan: 1 JSON bodies from 1 routes, 1 findings" in result.stdout


def test_clean_bodies_pass_with_a_summary(background: Started) -> None:
    result = background.result("leak-scan:clean")

    assert result.returncode == 0, result.stdout
    assert "leak scan: 3 JSON bodies from 1 routes, 0 findings" in result.stdout


def test_requests_served_with_no_body_recorded_fail_the_run(background: Started) -> None:
    result = background.result("leak-scan:unrecorded")

    assert result.returncode == 1, result.stdout
    assert "served 1 requests but no response was recorded" in result.stdout


def test_a_vendors_answer_to_a_provider_adapter_is_not_our_response(background: Started) -> None:
    result = background.result("leak-scan:vendor")

    assert result.returncode == 0, result.stdout
    assert "leak scan: 1 JSON bodies from 1 routes, 0 findings" in result.stdout
