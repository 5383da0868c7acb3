"""The engine's step table and the moves the steps share: dispatch by step kind, the next
step's message, the latest earlier step of a kind (`retouch.pipeline.engine`, `.context`)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, cast

import pytest

from retouch.catalog.schemas import PipelineStep
from retouch.pipeline.context import StepContext, StepRun, next_message, previous_step
from retouch.pipeline.engine import STEP_FUNCTIONS, dispatch, step_index
from retouch.pipeline.messages import StepKind, StepMessage
from retouch.pipeline.repository import StepRepository
from retouch.tasks.records import Task
from tests.fakes.tasks import FakeStepRepository
from tests.fakes.units import InMemoryDatabase

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=timezone.utc)
STEPS = [
    PipelineStep(step="prepare"),
    PipelineStep(step="generate", providers=["tencent", "local"]),
    PipelineStep(step="store"),
]
TASK_ID = "tsk_" + "a" * 22


def task(status: str = "running") -> Task:
    return Task(
        id=7,
        public_id=TASK_ID,
        user_id=1,
        feature_key="cutout",
        form_version=1,
        pipeline_version=1,
        status=status,  # type: ignore[arg-type]
        inputs={},
        images=(),
        error_code=None,
        cost=0,
        hidden=False,
        revision=0,
        created_at=NOW,
        started_at=None,
        finished_at=None,
    )


class Recorder:
    def __init__(self) -> None:
        self.runs: list[tuple[str, int]] = []

    def table(self) -> dict[StepKind, Any]:
        def step(kind: str) -> Any:
            return lambda context, run: self.runs.append((kind, run.index))

        return {kind: step(kind) for kind in ("prepare", "generate", "store", "finalize")}


def context(database: object = None) -> StepContext:
    unused = cast(Any, None)
    return StepContext(
        database=cast(Any, database),
        redis=unused,
        queue=unused,
        storage=unused,
        providers=unused,
        guards=unused,
        normalize=unused,
        fetch=unused,
    )


def test_the_table_has_a_function_for_every_step_kind() -> None:
    assert set(STEP_FUNCTIONS) == {"prepare", "generate", "store", "finalize"}


def test_a_message_runs_the_function_of_its_step_kind_at_its_index() -> None:
    recorder = Recorder()
    database = InMemoryDatabase({StepRepository: FakeStepRepository()})

    dispatch(context(database), recorder.table(), task(), StepMessage(TASK_ID, "store", 2), STEPS)

    assert recorder.runs == [("store", 2)]


def test_a_first_message_without_index_runs_the_first_step_of_its_kind() -> None:
    assert step_index(StepMessage(TASK_ID, "generate"), STEPS) == 1
    assert step_index(StepMessage(TASK_ID, "finalize", outcome="succeeded"), STEPS) == 3


def test_a_message_for_an_ended_task_runs_nothing() -> None:
    recorder = Recorder()
    steps = FakeStepRepository()
    database = InMemoryDatabase({StepRepository: steps})

    for kind in ("prepare", "generate", "store"):
        message = StepMessage(TASK_ID, kind, 0)
        dispatch(context(database), recorder.table(), task("canceled"), message, STEPS)

    assert recorder.runs == []


def test_the_next_message_names_the_next_step_then_finalize() -> None:
    assert next_message(task(), 0, STEPS) == StepMessage(TASK_ID, "generate", 1)
    assert next_message(task(), 2, STEPS) == StepMessage(
        TASK_ID, "finalize", 3, outcome="succeeded"
    )


def run_at(index: int, repo: FakeStepRepository, *, read: bool = False) -> StepRun:
    """A run of the step at `index`, its unit of work over `repo`; `read`: with the task's
    step rows as the engine reads them beside the task."""
    uow = InMemoryDatabase({StepRepository: repo}).unit_of_work()
    rows = {i: row for (_, i), row in repo.rows.items()} if read else None
    message = StepMessage(TASK_ID, STEPS[min(index, 2)].step, index)  # type: ignore[arg-type]
    return StepRun(task(), message, index, STEPS, cast(Any, uow), rows)


@pytest.mark.parametrize("read", [False, True], ids=["asked for", "read with the task"])
def test_previous_step_finds_the_latest_earlier_step_of_a_kind(read: bool) -> None:
    repo = FakeStepRepository()
    prepared = repo.begin(task_id=7, index=0, step="prepare", now=NOW, deadline_at=None)
    repo.succeed(prepared.id, state={"inputs": {"image": "work/x/in-image.png"}}, now=NOW)
    repo.begin(task_id=7, index=1, step="generate", now=NOW, deadline_at=None)

    found = previous_step(run_at(2, repo, read=read), "prepare")

    assert found is not None and found.state == {"inputs": {"image": "work/x/in-image.png"}}
    assert previous_step(run_at(2, repo, read=read), "generate") == repo.get(task_id=7, index=1)
    assert previous_step(run_at(0, repo, read=read), "prepare") is None  # nothing before it
    assert previous_step(run_at(3, repo, read=read), "store") is None  # not run yet
