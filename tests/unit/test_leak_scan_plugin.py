"""The leak-scan plugin in a pytest run of its own: a leaking body fails the run, a clean one
passes it, and requests served with no body recorded mean the instrumentation broke."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from scripts.local.lambda_runtime import ROOT

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


def run_pytest(tmp_path: Path, test_source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "probe.py").write_text(APP)
    (tmp_path / "test_probe.py").write_text(test_source)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "layers/retouch")])}
    command = [sys.executable, "-m", "pytest", "-p", "tests.leak_scan_plugin", "-q"]
    return subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [*command, "-c", os.devnull, "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_leaking_body_fails_a_run_whose_tests_pass(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path,
        "from probe import client\n\n"
        "def test_reads_a_task():\n"
        "    assert client().get('/v1/tasks/leak').status_code == 200\n",
    )

    assert result.returncode == 1, result.stdout
    assert "1 passed" in result.stdout
    assert (
        "test_probe.py::test_reads_a_task: GET /v1/tasks/leak: internal-id at $.id: '41'"
        in result.stdout
    )
    assert "leak scan: 1 JSON bodies from 1 routes, 1 findings" in result.stdout


def test_clean_bodies_pass_with_a_summary(tmp_path: Path) -> None:
    result = run_pytest(
        tmp_path,
        "from probe import client\n\n"
        "def test_reads_tasks():\n"
        "    for _ in range(3):\n"
        "        assert client().get('/v1/tasks/ok').json()['id'] == 'tsk_1'\n",
    )

    assert result.returncode == 0, result.stdout
    assert "leak scan: 3 JSON bodies from 1 routes, 0 findings" in result.stdout


def test_requests_served_with_no_body_recorded_fail_the_run(tmp_path: Path) -> None:
    # GIVEN a test in which the app logs a served request that no instrumented client saw
    result = run_pytest(
        tmp_path,
        "from retouch.core.logging import logger\n\n"
        "def test_served_elsewhere():\n"
        "    logger.info('request', extra={'route': '/v1/me', 'status': 200})\n",
    )

    assert result.returncode == 1, result.stdout
    assert "served 1 requests but no response was recorded" in result.stdout


def test_a_vendors_answer_to_a_provider_adapter_is_not_our_response(tmp_path: Path) -> None:
    # GIVEN the same leaking body, once as a vendor's answer to a provider adapter
    result = run_pytest(
        tmp_path,
        "from probe import client\n\n"
        "def test_reads_a_task():\n"
        "    vendor = {'User-Agent': 'retouch-provider/simulator'}\n"
        "    assert client().get('/v1/tasks/leak', headers=vendor).status_code == 200\n"
        "    assert client().get('/v1/tasks/ok').status_code == 200\n",
    )

    assert result.returncode == 0, result.stdout
    assert "leak scan: 1 JSON bodies from 1 routes, 0 findings" in result.stdout
