"""The engine's cheaper paths against real MariaDB and Redis: outbox marks written once per
batch of messages, a mark that never lands only costing one more delivery (the task's outcome
and its charge unchanged), and a step's first delivery answered without reading back the row
it inserted."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.core.time import utc_now
from retouch.pipeline.engine import Engine
from retouch.pipeline.repository import StepRepository
from retouch.queue.marks import DeferredMarks
from retouch.queue.outbox import relay
from tests.conftest import Stack
from tests.integration.engine_support import Run
from tests.integration.pipeline_support import PNG, ScriptedProvider, drain
from tests.integration.task_support import outbox_rows, tasks_app

pytestmark = pytest.mark.integration


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(tasks_app()) as test_client:
        yield test_client


@pytest.fixture(autouse=True)
def closed_breaker(stack: Stack) -> None:
    get_redis().delete("breaker:{tencent}:open", "breaker:{tencent}:failures")


def with_deferred_marks(run: Run) -> DeferredMarks:
    """The run's engine as a step function builds it: marks deferred to the batch's end."""
    marks = DeferredMarks(max_age_s=60)
    run.engine = Engine(dataclasses.replace(run.engine.context, marks=marks))
    return marks


def unpublished(task_id: str) -> int:
    return sum(1 for row in outbox_rows(task_id) if row["published_at"] is None)


def test_a_batch_marks_its_messages_published_in_one_go_at_its_end(
    client: TestClient, tmp_path: Path
) -> None:
    run = Run(client, tmp_path, ScriptedProvider("tencent", [PNG]))
    marks = with_deferred_marks(run)

    task = run.run()

    # every step message went out, none is marked yet: the batch has not ended
    assert task["status"] == "succeeded"
    sent = len(run.queue.published)
    assert sent == 3  # generate, store, finalize (prepare's was the request's own)
    assert unpublished(run.task_id) == sent and len(marks.pending) == sent

    assert run.engine.flush() == sent

    assert unpublished(run.task_id) == 0 and marks.pending == []


def test_lost_marks_mean_every_message_again_and_the_outcome_does_not_change(
    client: TestClient, tmp_path: Path
) -> None:
    # GIVEN a task that succeeded, whose marks never landed (the instance died at the end)
    run = Run(client, tmp_path, ScriptedProvider("tencent", [PNG]))
    marks = with_deferred_marks(run)
    before = run.run()
    steps = run.steps()
    lost = len(marks.pending)  # never flushed: they die with the instance
    run.engine = Engine(dataclasses.replace(run.engine.context, marks=None))
    assert unpublished(run.task_id) == lost == 3

    # WHEN the relay sends them again and the engine runs each once more
    relay(database=get_database("job"), queue=run.queue, min_age_s=0)
    again = [(q, body) for q, body in run.queue.sent if body.get("task_id") == run.task_id]
    run.queue.sent.clear()
    run.queue.sent.extend(again)
    ran = drain(run.engine, run.queue)

    # THEN every message came back, the task is as it was and charged once
    assert ran == lost
    assert unpublished(run.task_id) == 0
    assert run.task() == before and run.steps() == steps
    assert run.charged()


def test_a_first_delivery_is_the_row_as_stored_and_a_later_one_reads_it(
    client: TestClient, tmp_path: Path
) -> None:
    run = Run(client, tmp_path)
    with get_database().read_only() as uow:
        found = uow.fetch_one("SELECT id FROM tasks WHERE public_id = %s", (run.task_id,))
    assert found is not None
    now = utc_now()
    deadline = now + timedelta(seconds=120, microseconds=456_789)

    with get_database().unit_of_work() as uow:
        steps = uow.repository(StepRepository)
        first = steps.begin(
            task_id=found["id"], index=1, step="generate", now=now, deadline_at=deadline
        )
        uow.commit()
    with get_database().unit_of_work() as uow:
        steps = uow.repository(StepRepository)
        stored = steps.get(task_id=found["id"], index=1)
        again = steps.begin(
            task_id=found["id"], index=1, step="generate", now=utc_now(), deadline_at=None
        )

    assert stored is not None
    assert first == stored == again
    # as a DATETIME(3) column keeps it: cut to the millisecond
    assert first.deadline_at == deadline.replace(microsecond=deadline.microsecond // 1000 * 1000)


def test_the_rows_of_several_steps_come_in_one_statement(
    client: TestClient, tmp_path: Path
) -> None:
    run = Run(client, tmp_path, ScriptedProvider("tencent", [PNG]))
    run.run()
    with get_database().read_only() as uow:
        found = uow.fetch_one("SELECT id FROM tasks WHERE public_id = %s", (run.task_id,))
    assert found is not None

    with get_database().unit_of_work() as uow:
        steps = uow.repository(StepRepository)
        rows = steps.get_many(task_id=found["id"], indexes=[2, 0, 9])
        single = [steps.get(task_id=found["id"], index=i) for i in (0, 2)]
        assert steps.get_many(task_id=found["id"], indexes=[]) == {}
        assert steps.lock(task_id=found["id"], index=9) is None

    assert sorted(rows) == [0, 2]
    assert [rows[0], rows[2]] == single
    assert (rows[0].step, rows[2].step) == ("prepare", "store")
