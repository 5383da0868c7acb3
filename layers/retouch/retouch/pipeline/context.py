"""What the steps of the engine share (`StepContext`, the base of every step's mixin): the
engine's dependencies, the next step's message, writing it to the outbox in the step's
transaction and publishing it after commit, and ending a task as failed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retouch.catalog.schemas import PipelineStep
from retouch.core.db import Database, UnitOfWork
from retouch.core.redis import RedisClient
from retouch.core.time import Clock, utc_now
from retouch.pipeline.messages import StepMessage, step_queue
from retouch.pipeline.repository import MySQLStepRepository, StepRow
from retouch.pipeline.service import Outcome, finish_task
from retouch.pipeline.sources import ProviderSource
from retouch.providers.guards import ProviderGuards
from retouch.providers.metrics import count_provider_job
from retouch.providers.port import Provider
from retouch.queue.outbox import OutboxMessage, enqueue_in, publish_committed
from retouch.queue.port import QueuePort
from retouch.storage import Storage
from retouch.tasks.records import Task

DEFAULT_TIMEOUT_S = 120
DEFAULT_RETRIES = 2
MAX_POLL_DELAY_S = 20
Normalizer = Callable[[bytes], bytes]
Fetcher = Callable[[str, Provider], bytes]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One run of a `generate` step: its open transaction (holding the row's lock), the task,
    the step's place in the task's pipeline, and the step's row as it stands."""

    uow: UnitOfWork
    task: Task
    index: int
    steps: Sequence[PipelineStep]
    row: StepRow


@dataclass
class StepContext:
    """What every step uses: the engine's dependencies (the fields `Engine` is built with)
    and the moves shared by the steps — the next step's message, the outbox, a failed
    ending, a vendor job's health."""

    database: Database
    redis: RedisClient
    queue: QueuePort
    storage: Storage
    providers: ProviderSource
    guards: ProviderGuards
    normalize: Normalizer
    fetch: Fetcher
    clock: Clock = utc_now
    #: The API's public base URL: providers are told to call back at
    #: `<base>/v1/callbacks/<provider>`; None: jobs are only polled.
    callback_base_url: str | None = None

    def _next(self, task: Task, index: int, steps: Sequence[PipelineStep]) -> StepMessage:
        if index + 1 < len(steps):
            return StepMessage(task.public_id, steps[index + 1].step, index + 1)  # type: ignore[arg-type]
        return StepMessage(task.public_id, "finalize", len(steps), outcome="succeeded")

    def _send(self, uow: UnitOfWork, message: StepMessage, *, delay_s: float = 0) -> OutboxMessage:
        return enqueue_in(
            uow, step_queue(message.step), message.body(), delay_s=round(delay_s), clock=self.clock
        )

    def _publish(self, messages: Sequence[OutboxMessage]) -> None:
        publish_committed(
            database=self.database, queue=self.queue, messages=messages, clock=self.clock
        )

    def _fail(self, task: Task, *, code: str, detail: str) -> None:
        finish_task(
            database=self.database,
            redis=self.redis,
            task_id=task.public_id,
            outcome=Outcome(status="failed", error_code=code, error_detail=detail),
            clock=self.clock,
        )

    def _job_ended(self, key: str, *, ok: bool, latency_ms: float | None = None) -> None:
        """Count a vendor job for the provider's health (Redis) and metrics."""
        self.guards.record(key, ok=ok, latency_ms=latency_ms)
        count_provider_job(provider=key, ok=ok, latency_ms=latency_ms)


def previous_step(
    repo: MySQLStepRepository, task: Task, index: int, kind: str, steps: Sequence[PipelineStep]
) -> StepRow | None:
    """The row of the latest step of `kind` before `index` (None: the pipeline has none)."""
    for earlier in range(index - 1, -1, -1):
        if earlier < len(steps) and steps[earlier].step == kind:
            return repo.get(task_id=task.id, index=earlier)
    return None
