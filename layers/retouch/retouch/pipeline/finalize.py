"""The `finalize` step of the engine."""

from __future__ import annotations

from collections.abc import Sequence

from retouch.catalog.schemas import PipelineStep
from retouch.pipeline.context import StepContext, previous_step
from retouch.pipeline.messages import StepMessage
from retouch.pipeline.repository import MySQLStepRepository
from retouch.pipeline.service import Outcome, finish_task
from retouch.tasks.records import StoredImage, Task


class FinalizeStep(StepContext):
    """`finalize`: `finish_task` — the task's one ending, with its charge or refund."""

    def _finalize(self, task: Task, message: StepMessage, steps: Sequence[PipelineStep]) -> None:
        if message.outcome == "failed":
            self._fail(task, code=message.error_code or "GENERATION_FAILED", detail="finalize")
            return
        with self.database.read_only() as uow:
            repo = MySQLStepRepository(uow)
            store = previous_step(repo, task, len(steps), "store", steps)
            generate = previous_step(repo, task, len(steps), "generate", steps)
        provider = None if generate is None else generate.state.get("provider")
        images = tuple(
            StoredImage(key=i["key"], width=int(i["width"]), height=int(i["height"]))
            for i in (store.state.get("images", []) if store is not None else [])
        )
        outcome = (
            Outcome(status="succeeded", images=images, provider=provider)
            if images
            else Outcome(
                status="failed", error_code="GENERATION_FAILED", error_detail="no stored image"
            )
        )
        finish_task(
            database=self.database,
            redis=self.redis,
            task_id=task.public_id,
            outcome=outcome,
            clock=self.clock,
        )
