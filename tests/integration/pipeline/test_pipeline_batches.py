"""The engine's cheaper paths against real MariaDB and Redis: outbox marks written once per
batch of messages, a mark that never lands only costing one more delivery (the task's outcome
and its charge unchanged), a step's first delivery answered without reading back the row
it inserted; the `steps` connection starting its transactions with their first statement (no
BEGIN) and still rolling back what a failing unit wrote; a message's task and its steps' rows
in one statement (one JSON document); two deliveries of one step at the same moment still
running it once; two `prepare`s at once never deadlocking (the task starts before its step's
row is inserted); and a `finalize` twice at once settling its charge (one statement) once."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pymysql.err import IntegrityError, OperationalError
from starlette.testclient import TestClient

from retouch.core.db import Database, get_database
from retouch.core.redis import get_redis
from retouch.core.time import to_db, utc_now
from retouch.notify import task_channel
from retouch.pipeline.context import HeldUntilBatchEnd
from retouch.pipeline.engine import Engine
from retouch.pipeline.repository import StepRepository
from retouch.queue.marks import DeferredMarks
from retouch.queue.outbox import relay
from retouch.tasks.repository import TaskRepository
from tests.conftest import Stack
from tests.integration.engine_support import Run
from tests.integration.pipeline_support import PNG, ScriptedProvider, drain
from tests.integration.quota_support import account_of
from tests.integration.task_support import outbox_rows, quota, tasks_app, user_internal_id

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


def with_held(run: Run) -> HeldUntilBatchEnd:
    """The run's engine as a step function builds it: what steps leave for after their
    commit (messages, announcements) held until the batch's end, marks deferred too."""
    held = HeldUntilBatchEnd(max_age_s=60)
    context = dataclasses.replace(run.engine.context, marks=DeferredMarks(max_age_s=60))
    run.engine = Engine(dataclasses.replace(context, held=held))
    return held


def received(events: Any, *, within_s: float, until: int | None = None) -> list[Any]:
    """The task events `events` (a subscribed pub/sub) receives within `within_s` seconds
    (or until `until` of them have come)."""
    found: list[Any] = []
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline and (until is None or len(found) < until):
        message = events.get_message(timeout=0.05)
        if message is not None:
            found.append(json.loads(message["data"]))
    return found


def test_a_batch_publishes_its_messages_and_announcements_together_at_its_end(
    client: TestClient, tmp_path: Path
) -> None:
    runs = [Run(client, tmp_path, ScriptedProvider("tencent", [PNG])) for _ in range(3)]
    held = with_held(runs[0])
    engine, queue = runs[0].engine, runs[0].queue
    events = get_redis().pubsub(ignore_subscribe_messages=True)
    events.subscribe(*(task_channel(run.task_id) for run in runs))

    # WHEN one batch runs the three tasks' `prepare`
    for run in runs:
        engine.handle({"task_id": run.task_id, "step": "prepare", "attempt": 1})

    # THEN until the batch ends nothing went out: every task started, no message, no event
    assert [run.task()["status"] for run in runs] == ["running"] * 3
    assert queue.published == [] and len(held.held) == 3
    assert received(events, within_s=0.3) == []
    assert sum(unpublished(run.task_id) for run in runs) == 3

    # AND at its end every message and announcement went, and the marks were written
    assert engine.flush() == 3
    assert sorted(body["task_id"] for _, body, _ in queue.published) == sorted(
        run.task_id for run in runs
    )
    announced = received(events, within_s=2, until=len(runs))
    assert sorted((e["id"], e["status"]) for e in announced) == sorted(
        (run.task_id, "running") for run in runs
    )
    assert held.held == [] and sum(unpublished(run.task_id) for run in runs) == 0
    events.close()


def test_a_batch_that_dies_before_its_end_loses_no_message(
    client: TestClient, tmp_path: Path
) -> None:
    # GIVEN a task whose step messages were held, and the instance died before the batch's end
    run = Run(client, tmp_path, ScriptedProvider("tencent", [PNG]))
    with_held(run)
    run.engine.handle({"task_id": run.task_id, "step": "prepare", "attempt": 1})
    assert run.queue.published == [] and unpublished(run.task_id) == 1
    run.engine = Engine(dataclasses.replace(run.engine.context, held=None, marks=None))

    # WHEN the relay finds the committed message and the engine runs the rest
    relay(database=get_database("job"), queue=run.queue, min_age_s=0)
    run.queue.sent = deque(
        (q, body) for q, body in run.queue.sent if body.get("task_id") == run.task_id
    )
    drain(run.engine, run.queue)

    # THEN the task succeeded and was charged once
    assert run.task()["status"] == "succeeded"
    assert unpublished(run.task_id) == 0
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
        assert steps.lock_job(task_id=found["id"], index=9) is None
        assert steps.lock_job(task_id=found["id"], index=2) == (
            rows[2].status,
            rows[2].vendor_handle,
            rows[2].polls,
        )

    assert sorted(rows) == [0, 2]
    assert [rows[0], rows[2]] == single
    assert (rows[0].step, rows[2].step) == ("prepare", "store")


#: ER_LOCK_DEADLOCK: the server rolled the victim's transaction back.
DEADLOCK = 1213


def begins(database: Database) -> int:
    """How many BEGINs this thread's connection of `database` has sent so far."""
    with database.read_only() as uow:
        row = uow.fetch_one("SHOW SESSION STATUS LIKE 'Com_begin'")
    assert row is not None
    return int(row["Value"])


def outbox_row(name: str) -> int:
    with get_database().unit_of_work() as uow:
        uow.execute(
            "INSERT INTO outbox (queue_name, body, delay_s, created_at) VALUES (%s, %s, %s, %s)",
            (name, '{"n":0}', 0, to_db(utc_now())),
        )
        outbox_id = uow.last_insert_id()
        uow.commit()
    return outbox_id


def attempts(database: Database, outbox_id: int) -> int:
    with database.read_only() as uow:
        row = uow.fetch_one(
            "SELECT published_at, attempts, last_error FROM outbox WHERE id = %s", (outbox_id,)
        )
    assert row is not None
    return int(row["attempts"])


def bump(database: Database, outbox_id: int) -> None:
    with database.unit_of_work() as uow:
        uow.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = %s", (outbox_id,))
        uow.commit()


def test_the_steps_connection_sends_no_begin_and_keeps_the_unit_of_work_rules(
    stack: Stack,
) -> None:
    steps, job = get_database("steps"), get_database("job")
    outbox_id = outbox_row("test-implicit-transactions")

    # WHEN one unit of work commits on each connection
    before = (begins(steps), begins(job))
    bump(steps, outbox_id)
    bump(job, outbox_id)

    # THEN the job's sent a BEGIN and the steps' did not, and both writes are kept
    assert (begins(steps), begins(job)) == (before[0], before[1] + 1)
    assert attempts(get_database(), outbox_id) == 2

    # WHEN a unit on the steps connection fails after its write
    with pytest.raises(RuntimeError), steps.unit_of_work() as uow:
        uow.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = %s", (outbox_id,))
        raise RuntimeError("the step crashed")

    # THEN its write is rolled back
    assert attempts(get_database(), outbox_id) == 2

    # AND neither that unit nor a read-only one left a transaction open: the next read on
    # the steps connection sees a change committed elsewhere in the meantime
    assert attempts(steps, outbox_id) == 2
    bump(job, outbox_id)
    assert attempts(steps, outbox_id) == 3

    # AND a read-only unit inside an open one on the same connection (a provider source
    # refreshing its configs in the middle of a step) reads in it and does not end it: the
    # outer unit's write is kept by its commit
    with steps.unit_of_work() as outer:
        outer.execute("UPDATE outbox SET attempts = attempts + 1 WHERE id = %s", (outbox_id,))
        assert attempts(steps, outbox_id) == 4
        outer.commit()
    assert attempts(get_database(), outbox_id) == 4


def test_a_task_and_the_rows_of_its_steps_come_in_one_statement(
    client: TestClient, tmp_path: Path
) -> None:
    run = Run(client, tmp_path, ScriptedProvider("tencent", [PNG]))
    with get_database().read_only() as uow:
        assert uow.repository(StepRepository).task_with_steps(run.task_id) is not None
        unknown = uow.repository(StepRepository).task_with_steps("tsk_" + "0" * 22)
        before = uow.repository(StepRepository).task_with_steps(run.task_id)
    run.run()

    with get_database().read_only() as uow:
        found = uow.repository(StepRepository).task_with_steps(run.task_id)
        task = uow.repository(TaskRepository).get_by_public_id(run.task_id)
        assert found is not None and task is not None
        rows = uow.repository(StepRepository).get_many(task_id=task.id, indexes=[0, 1, 2])

    assert unknown is None
    assert before is not None and before[1] == {}  # a task no step has run for yet
    assert found == (task, rows)
    assert sorted(rows) == [0, 1, 2]


def twice_at_once(run: Run, body: dict[str, Any]) -> list[BaseException]:
    """`body` delivered twice at the same moment, on two threads (each its own connection);
    what the deliveries raised (a deadlock's victim raises: its message would come back)."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def deliver() -> None:
        barrier.wait()
        try:
            run.engine.handle(dict(body))
        except BaseException as exc:  # noqa: BLE001 - reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def at_once(run: Run, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """`body` delivered twice at the same moment (`twice_at_once`); the messages the two
    deliveries sent. A delivery the database chose as a deadlock's victim is delivered
    again, as a queue would bring its message back."""
    errors = twice_at_once(run, body)
    assert [exc.args[0] for exc in errors if isinstance(exc, OperationalError)] == [DEADLOCK] * len(
        errors
    )
    for _ in errors:
        run.engine.handle(dict(body))
    sent = list(run.queue.sent)
    run.queue.sent.clear()
    return sent


def test_two_deliveries_of_each_step_at_the_same_moment_run_it_once(
    client: TestClient, tmp_path: Path
) -> None:
    provider = ScriptedProvider("tencent", [PNG])
    run = Run(client, tmp_path, provider)
    body: dict[str, Any] = {"task_id": run.task_id, "step": "prepare", "attempt": 1}

    # WHEN every step's message is delivered twice at once, on two threads
    kinds = []
    for _ in range(4):
        sent = at_once(run, body)
        # THEN each step sends its successor once
        assert len(sent) <= 1, sent
        if not sent:
            break
        body = sent[0][1]
        kinds.append(body["step"])

    # AND the task went through every step once: one vendor job, one success, one charge
    assert kinds == ["generate", "store", "finalize"]
    assert provider.submits == 1
    assert run.task()["status"] == "succeeded"
    assert [step["status"] for step in run.steps()] == ["succeeded"] * 3
    assert run.charged()


#: Tasks raced per test: the deadlock two `prepare`s met did not come every time.
ROUNDS = 6


def test_two_prepares_at_once_start_the_task_once_and_never_deadlock(
    client: TestClient, tmp_path: Path
) -> None:
    for _ in range(ROUNDS):
        run = Run(client, tmp_path, ScriptedProvider("tencent", [PNG]))
        body = {"task_id": run.task_id, "step": "prepare", "attempt": 1}

        # WHEN the task's first message is delivered twice at the same moment
        errors = twice_at_once(run, body)

        # THEN neither delivery failed (no deadlock victim), the step ran once and sent its
        # successor once, and the task started
        assert errors == []
        assert [message["step"] for _, message in run.queue.sent] == ["generate"]
        assert [step["status"] for step in run.steps()] == ["succeeded"]
        assert run.task()["status"] == "running"


def up_to_finalize(run: Run) -> dict[str, Any]:
    """Every step of the run's task but its last; the `finalize` message, undelivered."""
    run.engine.handle({"task_id": run.task_id, "step": "prepare", "attempt": 1})
    while run.queue.sent:
        _, body = run.queue.sent.popleft()
        if body["step"] == "finalize":
            return body
        run.engine.handle(dict(body))
    raise AssertionError("no finalize message")


def test_a_finalize_delivered_twice_at_once_settles_the_charge_once(
    client: TestClient, tmp_path: Path
) -> None:
    for _ in range(ROUNDS):
        run = Run(client, tmp_path, ScriptedProvider("tencent", [PNG]))
        body = up_to_finalize(run)

        # WHEN the task's last message is delivered twice at the same moment
        errors = twice_at_once(run, body)

        # THEN one ended the task and charged it, the other changed nothing: the ledger
        # matches the balance and nothing stays reserved
        assert errors == []
        assert run.task()["status"] == "succeeded"
        assert run.charged()


def test_a_finalize_failing_between_its_settling_statements_keeps_the_credits_reserved(
    client: TestClient, tmp_path: Path
) -> None:
    run = Run(client, tmp_path, ScriptedProvider("tencent", [PNG]))
    body = up_to_finalize(run)
    user = user_internal_id(run.user["id"])
    # GIVEN the ledger refuses the charge's row: one of the same ref and kind is there
    balance = account_of(get_database(), user)["balance"]
    with get_database().unit_of_work() as uow:
        uow.execute(
            "INSERT INTO quota_ledger (user_id, kind, amount, balance_after, ref, created_at) "
            "VALUES (%s, 'charge', 0, %s, %s, %s)",
            (user, balance, run.task_id, to_db(utc_now())),
        )
        uow.commit()

    # WHEN `finalize` runs: the settling update goes through, the ledger's insert fails
    with pytest.raises(IntegrityError):
        run.engine.handle(dict(body))

    # THEN nothing of it stays: the task still runs, its credits are still reserved
    assert run.task()["status"] == "running"
    assert quota(run.user["id"])["reserved"] == 4
    # AND with the fault gone, the message delivered again ends the task and charges it once
    with get_database().unit_of_work() as uow:
        uow.execute("DELETE FROM quota_ledger WHERE ref = %s AND kind = 'charge'", (run.task_id,))
        uow.commit()
    run.engine.handle(dict(body))
    run.engine.handle(dict(body))
    assert run.task()["status"] == "succeeded"
    assert run.charged()
