"""The engine: one step message in, the task moved on (DESIGN §5).

Every step is idempotent under redelivery. A step's row in `task_steps` is created on its
first delivery and locked by each later one; a step that already succeeded does nothing
(its successor's message was written to the outbox in the same transaction). A message for
a task that has ended is acknowledged and dropped — for a `generate` step still waiting on a
vendor, after a best-effort cancel of the vendor's job.

- `prepare`: each upload the inputs name is read, normalised (orientation, format, size) and
  kept under `work/<task>/`; then `generate`.
- `generate`: the provider chain. A provider without an adapter, disabled or with its
  breaker open is skipped (recorded as a fallback). The vendor's handle is committed the
  moment `submit` returns; completion is polled by delayed messages with growing delay
  (or prompted by a callback) until the step's deadline. Retryable errors retry the same
  provider with backoff and jitter up to the step's `retries`, then fall back to the next;
  `ProviderBusy` waits for a slot without striking the breaker; permanent errors fail the
  task at once. Results are kept under `work/` (bytes) or as vendor URLs; then `store`.
- `store`: the results are fetched (vendor URLs only from the provider's own hosts),
  checked to be real images (magic bytes and dimensions) and copied to `outputs/<task>/`;
  an empty or non-image result sends the task back to `generate` with the next provider.
- `finalize`: `tasks.lifecycle.end_task` — the task's one ending, with its charge or refund.

Failures end the task through `end_task` at once, in the failing step's unit of work
(`INPUT_UNPROCESSABLE`, `GENERATION_FAILED`); the reaper ends what no message ever finishes
(`TASK_TIMEOUT`).

Dispatch is by table (`STEP_FUNCTIONS`): each step is a function of its own module taking the
engine's dependencies (`context.StepContext`) and the message in hand (`context.StepRun`);
each opens one unit of work and commits once at its end (`generate` also commits the
vendor's handle the moment `submit` returns). `prepare.py`, `generate.py` (its retries and
fallbacks decided in `chain.py`, its vendor jobs in `jobs.py`), `store.py`, `finalize.py`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from retouch.catalog.schemas import PipelineStep
from retouch.core.logging import logger
from retouch.core.units import Transaction
from retouch.pipeline.context import Fetcher, Normalizer, StepContext, StepFunction, StepRun
from retouch.pipeline.finalize import run_finalize
from retouch.pipeline.generate import run_generate
from retouch.pipeline.jobs import abandon
from retouch.pipeline.messages import StepKind, StepMessage
from retouch.pipeline.prepare import run_prepare
from retouch.pipeline.repository import StepRepository, StepRow
from retouch.pipeline.store import run_store
from retouch.queue.messages import InvalidMessage
from retouch.tasks.records import TERMINAL, Task

__all__ = ["STEP_FUNCTIONS", "Engine", "Fetcher", "Normalizer", "StepContext", "dispatch"]

#: Every step kind's function.
STEP_FUNCTIONS: Mapping[StepKind, StepFunction] = {
    "prepare": run_prepare,
    "generate": run_generate,
    "store": run_store,
    "finalize": run_finalize,
}


class Engine:
    """The steps over their dependencies, built once per function instance
    (`retouch.bootstrap.clients.get_engine`)."""

    def __init__(
        self, context: StepContext, *, table: Mapping[StepKind, StepFunction] = STEP_FUNCTIONS
    ) -> None:
        self.context = context
        self._table = table

    def handle(self, body: dict[str, Any]) -> None:
        """Run the step `body` names. Raises only for a failure worth a redelivery (a
        database or storage outage); a message that is not ours is logged and dropped."""
        try:
            message = StepMessage.parse(body)
        except InvalidMessage as exc:
            logger.warning("step message dropped", extra={"error": str(exc)})
            return
        # One unit of work from the first read to the step's commit: the task and its steps'
        # rows in one statement, and no BEGIN on the engine's `steps` connection.
        with self.context.database.unit_of_work() as uow:
            found = uow.repository(StepRepository).task_with_steps(message.task_id)
            if found is None:
                logger.warning("step message for no task", extra={"task": message.task_id})
                return
            task, rows = found
            pipeline = self.context.versions.pipeline(uow, task.feature_key, task.pipeline_version)
            steps = [] if pipeline is None else list(pipeline.steps)
            dispatch(self.context, self._table, task, message, steps, uow=uow, rows=rows)

    def flush(self) -> int:
        """The end of a batch of messages: publish what its steps held (`context.held`:
        their messages and announcements, in one round trip each), then mark the outbox rows
        its steps published, in one statement (`queue.marks`); how many rows it marked."""
        context = self.context
        if context.held is not None:
            context.held.release(context)
        if context.marks is None:
            return 0
        return context.marks.flush(database=context.database, clock=context.clock)


def dispatch(
    context: StepContext,
    table: Mapping[StepKind, StepFunction],
    task: Task,
    message: StepMessage,
    steps: Sequence[PipelineStep],
    *,
    uow: Transaction | None = None,
    rows: Mapping[int, StepRow] | None = None,
) -> None:
    """Run `message`'s step of `task` through `table`, in `uow` (None: a unit of its own),
    with the `rows` of the task's steps read beside the task (None: read when needed); a
    message for an ended task is dropped (a `generate` one after canceling the vendor job
    it may still run)."""
    if uow is None:
        with context.database.unit_of_work() as own:
            return dispatch(context, table, task, message, steps, uow=own, rows=rows)
    run = StepRun(task, message, step_index(message, steps), steps, uow, rows)
    if task.status in TERMINAL:
        if message.step == "generate":
            abandon(context, run)
        logger.debug("step message for an ended task", extra={"task": task.public_id})
        return None
    table[message.step](context, run)
    return None


def step_index(message: StepMessage, steps: Sequence[PipelineStep]) -> int:
    """The step's place in the pipeline: the message's, or for a task's first message (no
    index) the first step of its kind (`finalize`: after the last)."""
    if message.index is not None:
        return message.index
    if message.step == "finalize":
        return len(steps)
    return next((i for i, step in enumerate(steps) if step.step == message.step), 0)
