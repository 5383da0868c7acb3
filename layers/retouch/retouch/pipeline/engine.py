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
- `finalize`: `finish_task` — the task's one ending, with its charge or refund.

Failures end the task through `finish_task` at once (`INPUT_UNPROCESSABLE`,
`GENERATION_FAILED`); the reaper ends what no message ever finishes (`TASK_TIMEOUT`).

Each step lives in its own module as a mixin of `Engine` over `context.StepContext` (the
dependencies and the moves every step shares): `prepare.py`, `generate.py` (with its
retries and fallbacks in `chain.py`), `store.py`, `finalize.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retouch.catalog.repository import MySQLPipelineRepository
from retouch.catalog.schemas import PipelineStep
from retouch.core.db import UnitOfWork
from retouch.core.logging import logger
from retouch.pipeline.context import Fetcher, Normalizer
from retouch.pipeline.finalize import FinalizeStep
from retouch.pipeline.generate import GenerateStep
from retouch.pipeline.messages import StepMessage
from retouch.pipeline.prepare import PrepareStep
from retouch.pipeline.store import StoreStep
from retouch.queue.messages import InvalidMessage
from retouch.tasks.records import TERMINAL, Task
from retouch.tasks.repository import MySQLTaskRepository

__all__ = ["Engine", "Fetcher", "Normalizer"]


class Engine(PrepareStep, GenerateStep, StoreStep, FinalizeStep):
    """Every step, built once per function instance from its dependencies (the fields of
    `StepContext`; see `handlers.py`)."""

    # --- entry ------------------------------------------------------------------------------

    def handle(self, body: dict[str, Any]) -> None:
        """Run the step `body` names. Raises only for a failure worth a redelivery (a
        database or storage outage); a message that is not ours is logged and dropped."""
        try:
            message = StepMessage.parse(body)
        except InvalidMessage as exc:
            logger.warning("step message dropped", extra={"error": str(exc)})
            return
        with self.database.read_only() as uow:
            task = MySQLTaskRepository(uow).get_by_public_id(message.task_id)
            steps = self._steps(uow, task) if task is not None else []
        if task is None:
            logger.warning("step message for no task", extra={"task": message.task_id})
            return
        index = self._index(message, steps)
        if task.status in TERMINAL:
            if message.step == "generate":
                self._abandon(task, index)
            logger.info("step message for an ended task", extra={"task": task.public_id})
            return
        if message.step == "prepare":
            self._prepare(task, index, steps)
        elif message.step == "generate":
            self._generate(task, index, steps)
        elif message.step == "store":
            self._store(task, index, steps)
        else:
            self._finalize(task, message, steps)

    def _steps(self, uow: UnitOfWork, task: Task) -> list[PipelineStep]:
        pipeline = MySQLPipelineRepository(uow).get(task.feature_key, task.pipeline_version)
        return [] if pipeline is None else list(pipeline.steps)

    @staticmethod
    def _index(message: StepMessage, steps: Sequence[PipelineStep]) -> int:
        if message.index is not None:
            return message.index
        if message.step == "finalize":
            return len(steps)
        return next((i for i, step in enumerate(steps) if step.step == message.step), 0)
