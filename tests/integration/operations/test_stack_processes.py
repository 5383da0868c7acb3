"""The local stack with worker processes: requests spread over instances, the engine's steps
consumed in the background process, a clean stop."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from retouch.providers.local.samples import SAMPLE_FORMS
from scripts.local.demo import run_demo
from scripts.local.servers import free_port
from tests.integration.operations.test_demo import Sections
from tests.integration.operations.test_stack import _start_stack, _stop, _wait_until_serving

pytestmark = pytest.mark.integration


def _parent_of(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[1])


def _serving_pids(base_url: str, *, want: int, timeout_s: float = 60) -> set[int]:
    """The worker PIDs seen answering concurrent requests, until `want` distinct ones."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    with ThreadPoolExecutor(max_workers=8) as pool:
        while len(seen) < want and time.monotonic() < deadline:
            responses = list(
                pool.map(lambda _: httpx.get(f"{base_url}/health", timeout=10), range(16))
            )
            assert {response.status_code for response in responses} == {200}
            seen |= {int(response.headers["x-local-worker-pid"]) for response in responses}
    return seen


def test_stack_with_two_processes_serves_from_both_and_stops_them(tmp_path: Path) -> None:
    # GIVEN a stack started with two worker processes
    data_dir, log = tmp_path / "local", tmp_path / "stack.log"
    ports = {"http": free_port(), "db": free_port(), "redis": free_port(), "simulator": free_port()}
    base_url = f"http://127.0.0.1:{ports['http']}"
    objects = {"RETOUCH_STORAGE_LOCAL_ROOT": str(tmp_path / "objects")}
    process = _start_stack(data_dir, ports, log, "--processes", "2", settings=objects)
    try:
        _wait_until_serving(process, f"{base_url}/health", log)

        # WHEN many requests arrive at once
        pids = _serving_pids(base_url, want=2)

        # THEN two different processes answered them, both children of the stack, not the
        # stack itself, and a third child runs the consumers and schedules
        assert len(pids) == 2, log.read_text()
        assert process.pid not in pids
        assert {_parent_of(pid) for pid in pids} == {process.pid}
        output = log.read_text()
        assert "2 worker processes, consumers and schedules in another" in output
        assert httpx.get(f"{base_url}/health/db", timeout=10).status_code == 200

        # WHEN the demo creates a task per feature: uploads land in a worker, each task's
        # steps are consumed in the background process
        with httpx.Client(base_url=base_url, timeout=30) as client:
            page = run_demo(
                client,
                tmp_path / "demo",
                timeout_s=180,
                log=lambda _line: None,
                mail_dir=data_dir / "mail",
            )

        # THEN every task succeeded
        sections = Sections()
        sections.feed(page.read_text())
        assert sections.status == dict.fromkeys(SAMPLE_FORMS, "succeeded"), log.read_text()

        # WHEN it receives SIGINT (Ctrl-C)
        exit_code = _stop(process)
    finally:
        if process.poll() is None:
            process.kill()

    # THEN it exits cleanly and no worker process is left
    assert exit_code == 0, log.read_text()
    assert [pid for pid in pids if Path(f"/proc/{pid}").exists()] == []
    assert not (data_dir / "env").exists()
