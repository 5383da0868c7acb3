"""Step consumers killed with SIGKILL in the middle of steps, again and again, while 200
tasks run (real MariaDB, Redis, processes and OpenCV): every task ends, none is stuck, and
every user's credits are exactly grants minus charges."""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from retouch.bootstrap.clients import reset_clients
from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.storage import get_storage, upload_key
from scripts.local.lambda_runtime import ROOT
from tests.conftest import Stack, load_function
from tests.integration.identity_support import new_account
from tests.integration.quota_support import assert_ledger_matches
from tests.integration.task_support import new_upload, tasks_app, user_internal_id
from tests.progress import wait_while_progressing
from tests.unit.image_support import png

pytestmark = pytest.mark.integration

TASKS, USERS, WORKERS = 200, 20, 2
KILL_EVERY_STEPS = 5  # alone, about as many finish in one round of 0.15-0.4 s
IMAGE = png(24, 24)
SLOT_HOLD_S = 60  # the cutout pipeline's generate `timeout_s` (shared/seed/catalog.json)
MAX_BUSY_WAIT_S = 60  # the longest backoff of a step waiting for a slot (pipeline/chain.py)


@pytest.fixture
def worker_env(stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The settings the test and its workers share: one storage folder, and a queue that
    gives a killed worker's messages back after 2 s and never dead-letters them here."""
    settings = {
        "RETOUCH_STORAGE_LOCAL_ROOT": str(tmp_path / "objects"),
        "RETOUCH_STORAGE_LOCAL_SIGNING_KEY": "w" * 40,
        "RETOUCH_QUEUE_VISIBILITY_TIMEOUT_S": "2",
        "RETOUCH_QUEUE_MAX_DELIVERIES": "1000",
        "RETOUCH_RATE_LIMIT_TASKS_PER_USER_PER_MIN": "100000",
        # a worker killed between a step's commit and its publish leaves the message in the
        # outbox: the relay (every minute in the cloud) publishes it; here, every round
        "RETOUCH_OUTBOX_RELAY_MIN_AGE_S": "1",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    reset_clients()
    return {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'retouch'}:{ROOT}"}


class Workers:
    """The consumer processes: each says "worker ready" on its stdout once its handlers are
    loaded; only a ready one is killed (one still importing has no step to lose)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.running: list[subprocess.Popen[bytes]] = []
        self.kills = 0

    def start(self) -> None:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.pipeline_worker"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.running.append(process)

    def ready(self) -> list[subprocess.Popen[bytes]]:
        # its one line is waiting in the pipe (the worker writes nothing else)
        return [
            process
            for process in self.running
            if process.stdout and select.select([process.stdout], [], [], 0)[0]
        ]

    def kill_one(self, rng: random.Random) -> None:
        ready = self.ready()
        if not ready:
            return
        victim = rng.choice(ready)
        self.running.remove(victim)
        victim.send_signal(signal.SIGKILL)
        self._reap(victim)
        self.kills += 1
        self.start()

    def stop(self) -> None:
        for process in self.running:
            process.kill()
            self._reap(process)

    @staticmethod
    def _reap(process: subprocess.Popen[bytes]) -> None:
        process.wait()
        if process.stdout:
            process.stdout.close()


@pytest.fixture
def workers(worker_env: dict[str, str]) -> Iterator[Workers]:
    pool = Workers(worker_env)
    try:
        yield pool
    finally:
        pool.stop()


def unfinished(task_ids: list[str]) -> int:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM tasks WHERE status IN ('queued', 'running') "
            "AND public_id IN %s",
            (tuple(task_ids),),
        )
    assert row is not None
    return int(row["n"])


def finished_steps(task_ids: list[str]) -> int:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM task_steps s JOIN tasks t ON t.id = s.task_id "
            "WHERE s.finished_at IS NOT NULL AND t.public_id IN %s",
            (tuple(task_ids),),
        )
    assert row is not None
    return int(row["n"])


# Progress, not the wall clock, bounds the wait: 200 tasks take 26 s alone and far longer on a
# shared machine, so the test may run past pytest's default 300 s while tasks keep finishing.
@pytest.mark.timeout(1200)
def test_killed_consumers_lose_no_task_and_no_credit(workers: Workers, lambda_context: Any) -> None:
    # GIVEN 200 cutout tasks of 20 users, each on a real image
    storage = get_storage()
    users: list[dict[str, Any]] = []
    task_ids: list[str] = []
    with TestClient(tasks_app()) as client:
        for _ in range(USERS):
            user, headers = new_account()
            users.append(user)
            for _ in range(TASKS // USERS):
                upload = new_upload(user["id"])
                storage.put(upload_key(user_id=user["id"], upload_id=upload), IMAGE, "image/png")
                response = client.post(
                    "/v1/tasks",
                    json={"feature": "cutout", "inputs": {"image": upload}},
                    headers=headers,
                )
                assert response.status_code in (202, 402), response.text
                if response.status_code == 202:
                    task_ids.append(response.json()["id"])

    # (the `local` provider's slots and breaker as no earlier test of this Redis left them)
    redis = get_redis()
    for key in (*redis.scan_iter("slots:{local}*"), *redis.scan_iter("breaker:{local}*")):
        redis.delete(key)

    # WHEN two consumers run them, a ready one killed with SIGKILL every 0.15-0.4 s (once five
    # more steps finished: a faster engine finishes the 800 steps in fewer rounds)
    rng = random.Random(7)
    for _ in range(WORKERS):
        workers.start()
    relay = load_function("functions/jobs/outbox_relay/app.py").handler
    schedule = {"source": "aws.events", "detail-type": "Scheduled Event"}

    killed_at_steps = 0

    def kill_and_relay() -> None:
        # a kill only once KILL_EVERY_STEPS more steps finished: alone that is every round, as
        # before; on a busy machine the kills slow down with the work instead of starving it
        # (at a fixed pace, workers were killed while loading and no task ever finished)
        nonlocal killed_at_steps
        time.sleep(rng.uniform(0.15, 0.4))
        relay(schedule, lambda_context)
        if (done := finished_steps(task_ids)) >= killed_at_steps + KILL_EVERY_STEPS:
            killed_at_steps = done
            workers.kill_one(rng)

    # as long as it takes while steps keep finishing (a busy machine is slow, not stuck); the
    # tasks' steps interleave on the queues, so tasks themselves finish late and all at once.
    # A worker killed inside `generate` keeps its `local` slot until the slot's hold (the
    # step's 60 s timeout) passes, and a step that found every slot held waits up to 60 s
    # before it tries again: with all four slots lost that way, no step finishes for up to two
    # minutes, as in production, so a stall counts only past that.
    wait_while_progressing(
        lambda: unfinished(task_ids),
        total=len(task_ids),
        work_done=lambda: finished_steps(task_ids),
        step=kill_and_relay,
        stall_s=SLOT_HOLD_S + MAX_BUSY_WAIT_S + 30,
    )
    workers.stop()
    # the reaper then ends whatever is left (nothing should be)
    load_function("functions/jobs/reaper/app.py").handler(schedule, lambda_context)

    # THEN every task ended (killed many times over), and every user's credits add up
    assert workers.kills >= 10
    assert unfinished(task_ids) == 0
    with get_database().unit_of_work() as uow:
        statuses = uow.fetch_all(
            "SELECT status, COUNT(*) AS n FROM tasks WHERE public_id IN %s GROUP BY status",
            (tuple(task_ids),),
        )
    assert {row["status"] for row in statuses} <= {"succeeded", "failed"}
    for user in users:
        assert_ledger_matches(get_database(), user_internal_id(user["id"]))
        with get_database().unit_of_work() as uow:
            charged = uow.fetch_one(
                "SELECT COALESCE(SUM(t.cost), 0) AS charged, q.balance, q.reserved, "
                "(SELECT COALESCE(SUM(amount), 0) FROM quota_ledger l WHERE l.user_id = u.id "
                "AND l.kind IN ('grant', 'period_grant')) AS granted "
                "FROM users u JOIN quota_accounts q ON q.user_id = u.id "
                "LEFT JOIN tasks t ON t.user_id = u.id AND t.status = 'succeeded' "
                "WHERE u.public_id = %s GROUP BY q.balance, q.reserved, u.id",
                (user["id"],),
            )
        assert charged is not None
        assert charged["reserved"] == 0
        assert charged["balance"] == charged["granted"] - charged["charged"]
