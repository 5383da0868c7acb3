"""The transactional outbox: a publisher killed between commit and publish loses nothing —
the relay (the `outbox-relay` schedule's handler) publishes the message — against real
MariaDB and Redis and a real process kill."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest

from retouch.bootstrap.clients import reset_clients
from retouch.core.db import get_database
from scripts.local.lambda_runtime import ROOT
from tests.conftest import Stack, load_function
from tests.integration.identity_support import new_account
from tests.integration.queue_support import stored, unique_queue
from tests.integration.task_support import inputs_for, outbox_rows, queued_task_ids, quota

pytestmark = pytest.mark.integration


def user_tasks(owner: str) -> list[dict[str, Any]]:
    with get_database().unit_of_work() as uow:
        return uow.fetch_all(
            "SELECT t.public_id, t.status FROM tasks t JOIN users u ON u.id = t.user_id "
            "WHERE u.public_id = %s",
            (owner,),
        )


def test_a_publisher_killed_after_commit_loses_no_task_the_relay_publishes_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, lambda_context: Any
) -> None:
    # GIVEN a user, and a process creating their task that is killed right after the commit
    user, headers = new_account()
    before = quota(user["id"])
    token = headers["Authorization"].removeprefix("Bearer ")
    inputs = json.dumps(inputs_for("cutout", user["id"]))
    child = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "tests.integration.outbox_crash", token, "cutout", inputs],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'retouch'}:{ROOT}"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -9, child.stderr[-2000:]
    assert "dying before publishing" in child.stdout

    # THEN the task and its reservation are committed, and its message is only in the outbox
    (task,) = user_tasks(user["id"])
    assert task["status"] == "queued"
    assert quota(user["id"])["reserved"] == before["reserved"] + 4
    (row,) = outbox_rows(task["public_id"])
    assert row["published_at"] is None
    assert task["public_id"] not in queued_task_ids()

    # WHEN the scheduled relay runs (twice: the second finds nothing to do)
    monkeypatch.setenv("RETOUCH_OUTBOX_RELAY_MIN_AGE_S", "0")
    reset_clients()
    relay = load_function("functions/jobs/outbox_relay/app.py").handler
    first = relay({"source": "aws.events", "detail-type": "Scheduled Event"}, lambda_context)
    second = relay({"source": "aws.events", "detail-type": "Scheduled Event"}, lambda_context)

    # THEN the message is on the queue exactly once and the row is marked published
    assert first["published"] >= 1 and first["failed"] == 0 and first["backlog"] == 0
    assert second["published"] == 0
    assert queued_task_ids().count(task["public_id"]) == 1
    (row,) = outbox_rows(task["public_id"])
    assert row["published_at"] is not None


# Runs the relay's `app.py` as the schedule would, once, and prints its answer and whether the
# queue's client library was loaded.
RELAY_RUN = (
    "import json, sys\n"
    "from scripts.local.lambda_runtime import FakeLambdaContext, load_function\n"
    "relay = load_function('functions/jobs/outbox_relay/app.py').handler\n"
    "result = relay({'source': 'aws.events'}, FakeLambdaContext())\n"
    "print(json.dumps({'result': result, 'redis': 'redis' in sys.modules}))\n"
)


@pytest.mark.parametrize(("min_age_s", "loads_redis"), [("3600", False), ("30", True)])
def test_a_relay_run_loads_the_queue_client_only_when_a_message_is_due(
    stack: Stack, min_age_s: str, loads_redis: bool
) -> None:
    # GIVEN a message in the outbox that nobody published (its publisher died), a minute old
    stored(unique_queue(), 0, 1)

    # WHEN the relay runs in a fresh process, with the message too young (nothing due) or due
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'layers' / 'retouch'}:{ROOT}"}
    child = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", RELAY_RUN],
        cwd=ROOT,
        env={**env, "RETOUCH_OUTBOX_RELAY_MIN_AGE_S": min_age_s},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    # THEN a run with nothing due answers without loading redis-py; one with work loads it
    assert child.returncode == 0, child.stderr[-2000:]
    ran = json.loads(child.stdout.strip().splitlines()[-1])
    assert ran["redis"] is loads_redis
    assert ran["result"]["failed"] == 0
    assert (ran["result"]["published"] >= 1) is loads_redis
