"""How a task ends (retouch.tasks.lifecycle: end_task, finish_task) and the reaper, against real
MariaDB and Redis: exactly one ending changes a task and moves its credits."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.core.time import to_db, utc_now
from retouch.notify import task_channel
from retouch.tasks.lifecycle import Outcome, finish_task
from retouch.tasks.repository import TaskRepository
from retouch.tasks.schemas import StoredImage
from tests.conftest import Stack, load_function
from tests.integration.identity_support import new_account
from tests.integration.quota_support import assert_ledger_matches
from tests.integration.task_support import inputs_for, quota, tasks_app, user_internal_id

pytestmark = pytest.mark.integration

SUCCESS = Outcome(
    status="succeeded", images=(StoredImage(key="outputs/x/0.png", width=4, height=3),)
)
FAILURE = Outcome(status="failed", error_code="INTERNAL", error_detail="vendor said no")


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(tasks_app()) as test_client:
        yield test_client


def new_task(client: TestClient) -> tuple[str, dict[str, Any], dict[str, str], dict[str, int]]:
    user, headers = new_account()
    before = quota(user["id"])
    response = client.post(
        "/v1/tasks",
        json={"feature": "cutout", "inputs": inputs_for("cutout", user["id"])},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"]), user, headers, before


def start_task(task_id: str) -> bool:
    """`queued` → `running`, as the `prepare` step starts a task."""
    with get_database().unit_of_work() as uow:
        started = uow.repository(TaskRepository).start(task_id, now=utc_now())
        uow.commit()
    return started


def ends(task_id: str, outcome: Outcome) -> bool:
    return finish_task(database=get_database(), redis=get_redis(), task_id=task_id, outcome=outcome)


def test_success_charges_the_reserved_credits_once_and_shows_the_output(
    client: TestClient,
) -> None:
    task_id, user, headers, before = new_task(client)
    assert start_task(task_id)

    first, again = ends(task_id, SUCCESS), ends(task_id, SUCCESS)

    task = client.get(f"/v1/tasks/{task_id}", headers=headers).json()
    assert (first, again) == (True, False)
    assert task["status"] == "succeeded" and task["started_at"] and task["finished_at"]
    assert task["output"]["images"][0]["width"] == 4
    assert quota(user["id"]) == {"balance": before["balance"] - 4, "reserved": 0}
    assert_ledger_matches(get_database(), user_internal_id(user["id"]))


def test_failure_returns_the_credits_with_a_registry_code_and_no_vendor_words(
    client: TestClient,
) -> None:
    task_id, user, headers, before = new_task(client)

    assert ends(task_id, FAILURE)

    task = client.get(f"/v1/tasks/{task_id}", headers={**headers, "Accept-Language": "en"}).json()
    assert task["status"] == "failed"
    assert task["error"] == {"code": "INTERNAL", "message": "Internal server error"}
    assert "vendor" not in str(task)
    assert quota(user["id"]) == before


def test_an_ending_after_cancel_changes_nothing(client: TestClient) -> None:
    task_id, user, headers, before = new_task(client)
    assert client.post(f"/v1/tasks/{task_id}/cancel", headers=headers).status_code == 200

    assert not ends(task_id, SUCCESS)
    assert not ends(task_id, FAILURE)

    assert client.get(f"/v1/tasks/{task_id}", headers=headers).json()["status"] == "canceled"
    assert quota(user["id"]) == before
    assert_ledger_matches(get_database(), user_internal_id(user["id"]))


def race_finish_against_cancel(client: TestClient) -> None:
    # GIVEN a running task, and a finish and a cancel arriving together
    task_id, user, headers, before = new_task(client)
    start_task(task_id)
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def succeed() -> None:
        barrier.wait()
        results["finish"] = ends(task_id, SUCCESS)

    def cancel() -> None:
        with TestClient(tasks_app()) as own:
            barrier.wait()
            results["cancel"] = own.post(f"/v1/tasks/{task_id}/cancel", headers=headers)

    threads = [threading.Thread(target=succeed), threading.Thread(target=cancel)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN exactly one won, and the credits match the winner
    status = client.get(f"/v1/tasks/{task_id}", headers=headers).json()["status"]
    if status == "succeeded":
        assert results["finish"] is True and results["cancel"].status_code == 409
        assert quota(user["id"]) == {"balance": before["balance"] - 4, "reserved": 0}
    else:
        assert status == "canceled" and results["finish"] is False
        assert quota(user["id"]) == before
    assert_ledger_matches(get_database(), user_internal_id(user["id"]))


def test_success_racing_cancel_ends_the_task_once_with_exact_credits(client: TestClient) -> None:
    for _ in range(5):
        race_finish_against_cancel(client)


def test_an_ending_is_published_on_the_tasks_channel(client: TestClient) -> None:
    task_id, *_ = new_task(client)
    pubsub = get_redis().pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(task_channel(task_id))
    try:
        assert ends(task_id, FAILURE)
        message = None
        for _ in range(20):  # the first read consumes the subscription's confirmation
            message = pubsub.get_message(timeout=0.2)
            if message is not None:
                break
    finally:
        pubsub.close()

    assert message is not None and '"status": "failed"' in message["data"]


def test_the_reaper_times_out_overdue_tasks_and_returns_their_credits(
    client: TestClient, lambda_context: Any
) -> None:
    # GIVEN an overdue queued task, an overdue running task and one still in time
    overdue_queued, user_a, headers_a, before_a = new_task(client)
    overdue_running, user_b, headers_b, before_b = new_task(client)
    in_time, _, headers_c, _ = new_task(client)
    start_task(overdue_running)
    with get_database().unit_of_work() as uow:
        for task_id in (overdue_queued, overdue_running):
            uow.execute(
                "UPDATE tasks SET deadline_at = %s WHERE public_id = %s",
                (to_db(utc_now() - timedelta(seconds=1)), task_id),
            )
        uow.commit()

    # WHEN the scheduled reaper runs until it finds nothing overdue (the shared database may
    # hold other tests' overdue tasks: it takes 500 a run, oldest deadline first)
    reaper = load_function("functions/jobs/reaper/app.py").handler
    event = {"source": "aws.events", "detail-type": "Scheduled Event"}
    runs = [reaper(event, lambda_context)]
    while runs[-1]["overdue"] and len(runs) < 100:
        runs.append(reaper(event, lambda_context))

    # THEN both overdue tasks failed with TASK_TIMEOUT, refunded; the other is untouched
    assert (runs[-1]["overdue"], runs[-1]["timed_out"]) == (0, 0)
    assert sum(run["timed_out"] for run in runs) >= 2
    for task_id, headers, user, before in (
        (overdue_queued, headers_a, user_a, before_a),
        (overdue_running, headers_b, user_b, before_b),
    ):
        task = client.get(f"/v1/tasks/{task_id}", headers=headers).json()
        assert (task["status"], task["error"]["code"]) == ("failed", "TASK_TIMEOUT")
        assert quota(user["id"]) == before
    assert client.get(f"/v1/tasks/{in_time}", headers=headers_c).json()["status"] == "queued"


def test_the_reaper_re_drives_a_step_whose_message_was_lost_once(
    client: TestClient, lambda_context: Any
) -> None:
    # GIVEN a task whose `generate` step nobody touched for ten minutes (its message was lost)
    task_id, *_ = new_task(client)
    with get_database().unit_of_work() as uow:
        internal = uow.fetch_one("SELECT id FROM tasks WHERE public_id = %s", (task_id,))
        assert internal is not None
        uow.execute(
            "INSERT INTO task_steps (task_id, step_index, step, status, started_at, updated_at) "
            "VALUES (%s, 1, 'generate', 'waiting', %s, %s)",
            (internal["id"], to_db(utc_now()), to_db(utc_now() - timedelta(minutes=10))),
        )
        uow.commit()

    def sent() -> int:
        entries: list[Any] = get_redis().xrange("q:{steps-generate}") or []
        return sum(task_id in json.dumps(fields) for _, fields in entries)

    before = sent()

    # WHEN the reaper runs twice
    reaper = load_function("functions/jobs/reaper/app.py").handler
    event = {"source": "aws.events", "detail-type": "Scheduled Event"}
    first, second = reaper(event, lambda_context), reaper(event, lambda_context)

    # THEN the step's message was sent again once
    after = sent()
    assert first["redriven"] >= 1 and second["redriven"] == 0
    assert after == before + 1


def test_the_reaper_forgets_idempotency_keys_past_their_day(
    client: TestClient, lambda_context: Any
) -> None:
    # GIVEN a key used yesterday and one used now
    user, headers = new_account()
    for key in ("old-key", "new-key"):
        response = client.post(
            "/v1/tasks",
            json={"feature": "cutout", "inputs": inputs_for("cutout", user["id"])},
            headers={**headers, "Idempotency-Key": key},
        )
        assert response.status_code == 202
    with get_database().unit_of_work() as uow:
        uow.execute(
            "UPDATE idempotency_keys SET expires_at = %s WHERE idempotency_key = 'old-key' "
            "AND user_id = %s",
            (to_db(utc_now() - timedelta(seconds=1)), user_internal_id(user["id"])),
        )
        uow.commit()

    # WHEN the reaper runs
    result = load_function("functions/jobs/reaper/app.py").handler(
        {"source": "aws.events", "detail-type": "Scheduled Event"}, lambda_context
    )

    # THEN only the expired key is gone
    with get_database().unit_of_work() as uow:
        keys = uow.fetch_all(
            "SELECT idempotency_key FROM idempotency_keys WHERE user_id = %s",
            (user_internal_id(user["id"]),),
        )
    assert result["keys_purged"] >= 1
    assert [row["idempotency_key"] for row in keys] == ["new-key"]
