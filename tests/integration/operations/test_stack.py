"""The whole local stack as a process: serves over HTTP, stops cleanly, refuses bad settings."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from scripts.local.lambda_runtime import ROOT
from scripts.local.migrate import MIGRATIONS
from scripts.local.servers import free_port
from tests.integration.local_runtime import (
    clean_environment,
    run,
)

pytestmark = pytest.mark.integration


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in command:
            found.append(command)
    return found


def _start_stack(
    data_dir: Path,
    ports: dict[str, int],
    log: Path,
    *options: str,
    settings: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    env = {
        **clean_environment(),
        "PYTHONPATH": f"{ROOT / 'layers' / 'retouch'}:{ROOT}",
        "POWERTOOLS_METRICS_DISABLED": "true",
        **(settings or {}),
    }
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [
                sys.executable,
                "-m",
                "scripts.local.stack",
                "--data-dir",
                str(data_dir),
                "--port",
                str(ports["http"]),
                "--db-port",
                str(ports["db"]),
                "--redis-port",
                str(ports["redis"]),
                "--simulator-port",
                str(ports["simulator"]),
                *options,
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
        )


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the stack did not come up:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def test_stack_serves_over_http_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    # GIVEN a stack started as `python -m scripts.local.stack` on free ports with its own data
    # folder
    data_dir, log = tmp_path / "local", tmp_path / "stack.log"
    ports = {"http": free_port(), "db": free_port(), "redis": free_port(), "simulator": free_port()}
    base_url = f"http://127.0.0.1:{ports['http']}"
    simulator_url = f"http://127.0.0.1:{ports['simulator']}"
    process = _start_stack(data_dir, ports, log)
    try:
        # WHEN it is up
        _wait_until_serving(process, f"{base_url}/health", log)

        # THEN it answers over real HTTP, also several requests at once
        with ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(
                pool.map(lambda _: httpx.get(f"{base_url}/health/db", timeout=10), range(12))
            )
        assert [response.status_code for response in responses] == [200] * 12
        assert all(response.headers["x-request-id"] for response in responses)
        env_file = (data_dir / "env").read_text()
        assert f"RETOUCH_DB_PORT={ports['db']}" in env_file
        # the simulator serves, and takes only the key the stack gives its `simulator` provider
        api_key = (data_dir / "simulator-api-key").read_text()
        assert f"RETOUCH_SIMULATOR_API_KEY={api_key}\n" in env_file
        assert httpx.get(f"{simulator_url}/jobs/none", timeout=5).status_code == 401
        keyed = httpx.get(
            f"{simulator_url}/jobs/none", headers={"authorization": f"Bearer {api_key}"}, timeout=5
        )
        assert keyed.json()["code"] == "NOT_FOUND"

        # WHEN it receives SIGINT (Ctrl-C)
        exit_code = _stop(process)
    finally:
        if process.poll() is None:
            process.kill()

    # THEN it exits cleanly, its servers are gone and the env file with them
    assert exit_code == 0, log.read_text()
    assert _processes_mentioning(str(data_dir)) == []
    assert _processes_mentioning(f"127.0.0.1:{ports['redis']}") == []
    assert not (data_dir / "env").exists()
    output = log.read_text()
    assert f"migrations applied: {_migration_count()}" in output
    assert f"stack: simulator on {simulator_url} SimulatorConfig(" in output
    # one consumer per step queue of the template, started and stopped with the stack
    for step in ("prepare", "generate", "store", "finalize"):
        assert f"StepFunction <- steps-{step}" in output, output
    assert output.index("Shutting down") < output.index("stack: stopped")

    # WHEN it starts again on the same data folder
    restarted = _start_stack(data_dir, ports, log)
    try:
        _wait_until_serving(restarted, f"{base_url}/health/db", log)
    finally:
        assert _stop(restarted) == 0

    # THEN it reused the database: nothing left to migrate
    assert "migrations applied: 0" in log.read_text()


def test_stack_refuses_an_invalid_setting_with_one_line_naming_it(tmp_path: Path) -> None:
    # GIVEN an invalid explicit RETOUCH_* setting
    env = {**clean_environment(), "PYTHONPATH": f"{ROOT / 'layers' / 'retouch'}:{ROOT}"}
    env["RETOUCH_STAGE"] = "moon"

    # WHEN the stack starts
    result = run(
        [sys.executable, "-m", "scripts.local.stack", "--data-dir", str(tmp_path / "local")],
        env=env,
    )

    # THEN it stops at once, before starting any server, naming the variable
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "RETOUCH_STAGE" in result.stderr
    assert not (tmp_path / "local").exists()


def _migration_count() -> int:
    """Every migration in shared/migrations (a fresh data folder applies them all)."""
    return sum(1 for path in MIGRATIONS.glob("*.sql") if not path.name.endswith(".rollback.sql"))
