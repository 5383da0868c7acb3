"""The local runtime's queue consumers in two processes (`scripts/run --consumer-processes 2`),
as a step function scaled out to two instances: both consume the step queues, Redis Streams'
consumer group gives each message to one of them, and every task ends once."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from retouch.bootstrap.clients import reset_clients
from retouch.core.db import get_database
from retouch.quota.service import grant_credits
from retouch.storage import get_storage, upload_key
from scripts.local.processes import RUNNING_LINE, start_background, stop_background
from tests.conftest import Stack, environment
from tests.integration.identity_support import new_account
from tests.integration.pipeline_support import task_steps
from tests.integration.quota_support import assert_ledger_matches, ledger_kinds
from tests.integration.task_support import new_upload, tasks_app, user_internal_id
from tests.unit.image_support import png

pytestmark = pytest.mark.integration

TASKS = 12
PICTURE = png(64, 48)
#: No task ending for this long fails the test (progress, not the wall clock).
STALL_S = 90.0


@contextmanager
def stderr_to(path: Path) -> Iterator[None]:
    """File descriptor 2 to `path` for the block: a process spawned in it writes there."""
    saved = os.dup(2)
    with path.open("ab") as out:
        os.dup2(out.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def wait_for_endings(client: TestClient, headers: dict[str, str], ids: list[str]) -> list[str]:
    """The tasks' statuses once none is queued or running, or once none ended for STALL_S."""
    ended, last_change = 0, time.monotonic()
    while True:
        statuses = [
            client.get(f"/v1/tasks/{task_id}", headers=headers).json()["status"] for task_id in ids
        ]
        now_ended = sum(status not in ("queued", "running") for status in statuses)
        if now_ended == len(ids) or time.monotonic() - last_change > STALL_S:
            return statuses
        if now_ended != ended:
            ended, last_change = now_ended, time.monotonic()
        time.sleep(0.5)


def wait_until_running(logs: dict[int, Path], timeout_s: float = 120) -> None:
    """Until each background process (pid → its stderr) says its consumers run."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(RUNNING_LINE.format(pid=pid) in log.read_text() for pid, log in logs.items()):
            return
        time.sleep(0.2)
    raise AssertionError("\n".join(log.read_text() for log in logs.values()))


def create_task(client: TestClient, headers: dict[str, str], owner: str) -> str:
    """A cutout task of `owner` on a fresh upload of a photo the local provider can cut out."""
    upload = new_upload(owner)
    get_storage().put(upload_key(user_id=owner, upload_id=upload), PICTURE, "image/png")
    response = client.post(
        "/v1/tasks", json={"feature": "cutout", "inputs": {"image": upload}}, headers=headers
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_two_consumer_processes_share_the_step_queues_and_each_task_ends_once(
    private_stack: Stack, tmp_path: Path
) -> None:
    settings = {
        "RETOUCH_STORAGE_LOCAL_ROOT": str(tmp_path / "objects"),
        "RETOUCH_STORAGE_LOCAL_SIGNING_KEY": "c" * 40,
    }
    with environment(settings), TestClient(tasks_app()) as client:
        reset_clients()
        # GIVEN a user with credits for every task, and two consumer processes running the
        # template's consumers (the first its schedules too)
        user, headers = new_account()
        internal = user_internal_id(user["id"])
        with get_database().unit_of_work() as uow:
            grant_credits(uow=uow, user_id=internal, amount=100, reason="test", ref=user["id"])
            uow.execute("UPDATE plans SET max_concurrent_tasks = NULL")
            uow.commit()
        logs = [tmp_path / "consumers-1.log", tmp_path / "consumers-2.log"]
        with stderr_to(logs[0]):
            first, stop = start_background(1)
        with stderr_to(logs[1]):
            second, _ = start_background(1, schedules=False, stop=stop)
        try:
            assert first.pid is not None and second.pid is not None
            wait_until_running({first.pid: logs[0], second.pid: logs[1]})

            # WHEN TASKS cutout tasks are created
            ids = [create_task(client, headers, user["id"]) for _ in range(TASKS)]
            statuses = wait_for_endings(client, headers, ids)
        finally:
            stop_background([first, second], stop)

        # THEN every task succeeded, each step ran once, each charge was taken once
        output = "\n".join(log.read_text() for log in logs)
        assert statuses == ["succeeded"] * TASKS, output
        for task_id in ids:
            assert [(row["step"], row["status"]) for row in task_steps(task_id)] == [
                ("prepare", "succeeded"),
                ("generate", "succeeded"),
                ("store", "succeeded"),
            ]
        kinds = [kind for kind, _amount in ledger_kinds(get_database(), internal)]
        assert kinds.count("charge") == TASKS, kinds
        assert_ledger_matches(get_database(), internal)
        # AND both processes took a share of the step queues' messages
        for log in logs:
            acked = [line for line in log.read_text().splitlines() if "<- steps-" in line]
            assert any("acked" in line and "acked 0," not in line for line in acked), output
