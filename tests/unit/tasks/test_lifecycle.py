"""A task's one ending (`retouch.tasks.lifecycle`, `retouch.tasks.cancel.cancel_in`) over the
in-memory repositories: it ends once and settles its credits once; a later ending, the
reaper's timeout or a cancel changes nothing; the owner cannot cancel a finished task."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, cast

import pytest

from retouch.core.redis import RedisClient
from retouch.tasks.cancel import cancel_in
from retouch.tasks.errors import TaskNotCancelable
from retouch.tasks.lifecycle import (
    CANCELED,
    TIMED_OUT,
    Outcome,
    end_task,
    finish_task,
    time_out_overdue,
)
from retouch.tasks.records import StoredImage, Task
from retouch.tasks.repository import TaskRepository
from tests.fakes.tasks import FakeTaskRepository
from tests.fakes.units import InMemoryDatabase

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
SUCCESS = Outcome("succeeded", images=(StoredImage("outputs/x/0.png", 4, 3),), provider="local")
FAILURE = Outcome("failed", error_code="GENERATION_FAILED", error_detail="vendor said no")


class Published:
    """Redis as the announcement sees it: the channel messages."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str]] = []

    def publish(self, channel: str, message: str) -> int:
        self.messages.append((channel, message))
        return 1


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The reservations the endings settled ((charge or refund, task)): a minimal quota."""
    import retouch.quota.reservations as reservations

    moves: list[tuple[str, str]] = []

    def settle(kind: str) -> Any:
        def move(*, uow: object, task_ref: str, clock: object) -> bool:
            moves.append((kind, task_ref))
            return True

        return move

    monkeypatch.setattr(reservations, "charge_in", settle("charge"))
    monkeypatch.setattr(reservations, "refund_in", settle("refund"))
    return moves


def new_task(tasks: FakeTaskRepository, *, cost: int = 3, deadline_s: int = 60) -> Task:
    public_id = f"tsk_{len(tasks.tasks):022d}"
    tasks.add(
        public_id=public_id,
        user_id=1,
        feature_key="cutout",
        form_version=1,
        pipeline_version=1,
        inputs={},
        cost=cost,
        now=NOW,
        deadline_at=NOW + timedelta(seconds=deadline_s),
    )
    task = tasks.get_by_public_id(public_id)
    assert task is not None
    return task


def world() -> tuple[FakeTaskRepository, InMemoryDatabase]:
    tasks = FakeTaskRepository()
    return tasks, InMemoryDatabase({TaskRepository: tasks})


def test_success_ends_the_task_and_charges_its_credits(settled: list[tuple[str, str]]) -> None:
    tasks, database = world()
    task = new_task(tasks)

    with database.unit_of_work() as uow:
        ended = end_task(uow, task, SUCCESS, now=NOW)
        uow.commit()

    stored = tasks.get(task.id)
    assert ended is not None and stored is not None
    assert (stored.status, stored.images, stored.finished_at) == ("succeeded", SUCCESS.images, NOW)
    assert settled == [("charge", task.public_id)]


def test_a_second_ending_changes_nothing_and_moves_no_credits(
    settled: list[tuple[str, str]],
) -> None:
    tasks, database = world()
    task = new_task(tasks)
    with database.unit_of_work() as uow:
        assert end_task(uow, task, FAILURE, now=NOW) is not None
        uow.commit()

    for outcome in (SUCCESS, FAILURE, CANCELED, TIMED_OUT):
        with database.unit_of_work() as uow:
            assert end_task(uow, task, outcome, now=NOW + timedelta(seconds=1)) is None
            uow.commit()

    stored = tasks.get(task.id)
    assert stored is not None and (stored.status, stored.error_code) == (
        "failed",
        FAILURE.error_code,
    )
    assert settled == [("refund", task.public_id)]


def test_an_ending_rolled_back_leaves_the_task_unfinished(settled: list[tuple[str, str]]) -> None:
    tasks, database = world()
    task = new_task(tasks)

    with database.unit_of_work() as uow:
        end_task(uow, task, SUCCESS, now=NOW)  # no commit: the step failed after it

    stored = tasks.get(task.id)
    assert stored is not None and stored.status == "queued"


def test_a_free_task_ends_without_touching_credits(settled: list[tuple[str, str]]) -> None:
    tasks, database = world()
    task = new_task(tasks, cost=0)

    with database.unit_of_work() as uow:
        assert end_task(uow, task, SUCCESS, now=NOW) is not None

    assert settled == []


def test_a_failed_outcome_names_its_error_code() -> None:
    tasks, database = world()
    with database.unit_of_work() as uow, pytest.raises(ValueError, match="error code"):
        end_task(uow, new_task(tasks), Outcome("failed"), now=NOW)


def test_finishing_announces_the_new_status_once(settled: list[tuple[str, str]]) -> None:
    tasks, database = world()
    task = new_task(tasks)
    redis = Published()

    first = finish_task(
        database=database, redis=cast(RedisClient, redis), task_id=task.public_id, outcome=SUCCESS
    )
    again = finish_task(
        database=database, redis=cast(RedisClient, redis), task_id=task.public_id, outcome=FAILURE
    )

    assert (first, again) == (True, False)
    assert redis.messages == [
        (
            f"task:{{{task.public_id}}}:events",
            f'{{"id": "{task.public_id}", "status": "succeeded"}}',
        )
    ]


def test_cancel_ends_an_unfinished_task_and_returns_its_credits(
    settled: list[tuple[str, str]],
) -> None:
    tasks, database = world()
    task = new_task(tasks)

    with database.unit_of_work() as uow:
        ended = cancel_in(uow, task, now=NOW)
        uow.commit()

    stored = tasks.get(task.id)
    assert ended is not None and stored is not None and stored.status == "canceled"
    assert settled == [("refund", task.public_id)]


def test_cancel_of_a_canceled_task_changes_nothing(settled: list[tuple[str, str]]) -> None:
    tasks, database = world()
    task = new_task(tasks)
    with database.unit_of_work() as uow:
        cancel_in(uow, task, now=NOW)
        uow.commit()

    canceled = tasks.get(task.id)
    assert canceled is not None
    with database.unit_of_work() as uow:
        assert cancel_in(uow, canceled, now=NOW) is None

    assert settled == [("refund", task.public_id)]


def test_cancel_of_a_finished_task_is_refused(settled: list[tuple[str, str]]) -> None:
    tasks, database = world()
    task = new_task(tasks)
    with database.unit_of_work() as uow:
        end_task(uow, task, SUCCESS, now=NOW)
        uow.commit()
    finished = tasks.get(task.id)
    assert finished is not None

    with database.unit_of_work() as uow, pytest.raises(TaskNotCancelable):
        cancel_in(uow, finished, now=NOW)

    assert settled == [("charge", task.public_id)]


def test_the_reaper_times_out_only_unfinished_tasks_past_their_deadline(
    settled: list[tuple[str, str]],
) -> None:
    tasks, database = world()
    late, in_time, finished = (
        new_task(tasks, deadline_s=-1),
        new_task(tasks),
        new_task(tasks, deadline_s=-2),
    )
    with database.unit_of_work() as uow:
        end_task(uow, finished, SUCCESS, now=NOW)
        uow.commit()

    result = time_out_overdue(
        database=database, redis=lambda: cast(RedisClient, Published()), clock=lambda: NOW
    )

    assert result == (1, 1)
    statuses = {t.public_id: (t.status, t.error_code) for t in tasks.tasks.values()}
    assert statuses == {
        late.public_id: ("failed", "TASK_TIMEOUT"),
        in_time.public_id: ("queued", None),
        finished.public_id: ("succeeded", None),
    }
