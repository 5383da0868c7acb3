"""What the steps of the engine share: their dependencies (`StepContext`), the message in hand
(`StepRun`), the next step's message, the outbox, and what a step does once its unit of work
has committed (`After`: publish its messages, announce an ending)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from retouch.catalog.schemas import PipelineStep
from retouch.catalog.versions import Versions
from retouch.core.redis import RedisClient
from retouch.core.time import Clock, utc_now
from retouch.core.units import Transaction, Transactions
from retouch.notify import publish_task_events
from retouch.pipeline.messages import StepMessage, step_queue
from retouch.pipeline.repository import StepRepository, StepRow
from retouch.pipeline.sources import ProviderSource
from retouch.providers.guards import ProviderGuards
from retouch.providers.metrics import count_provider_job
from retouch.providers.port import Provider
from retouch.queue.outbox import DeferredMarks, OutboxMessage, enqueue_in, publish_committed
from retouch.queue.port import QueuePort
from retouch.storage import Storage
from retouch.tasks.lifecycle import Ended
from retouch.tasks.records import Task

DEFAULT_TIMEOUT_S = 120
DEFAULT_RETRIES = 2
MAX_POLL_DELAY_S = 20
#: What a step left for its batch's end goes at once when held this long, seconds.
HELD_MAX_AGE_S = 1.0
Normalizer = Callable[[bytes], bytes]
Fetcher = Callable[[str, Provider], bytes]


@dataclass(frozen=True)
class StepContext:
    """The engine's dependencies, built once per function instance (`bootstrap.clients`)."""

    database: Transactions
    redis: RedisClient
    queue: QueuePort
    storage: Storage
    providers: ProviderSource
    guards: ProviderGuards
    normalize: Normalizer
    fetch: Fetcher
    clock: Clock = utc_now
    #: The API's public base URL: providers are told to call back at
    #: `<base>/v1/callbacks/<provider>/<the job's token>`; None: jobs are only polled.
    callback_base_url: str | None = None
    #: The pipeline and form versions this instance has read (never updated, so kept).
    versions: Versions = field(default_factory=Versions)
    #: Given (the step functions), outbox rows are marked published once per batch of
    #: messages (`Engine.flush`); None: each step marks its own at once.
    marks: DeferredMarks | None = None
    #: Given (the step functions), steps' messages and announcements go out once per batch
    #: of messages (`Engine.flush`); None: each step's at once.
    held: HeldUntilBatchEnd | None = None


@dataclass(frozen=True, slots=True)
class StepRun:
    """One step message to run: its task (not ended), the message, the step's place in the
    task's pipeline and that pipeline's steps; the unit of work the task was read in, which
    the step goes on with and commits (rolled back by the engine unless it does), and the
    rows of the task's steps read with the task (None: not read, asked for when needed)."""

    task: Task
    message: StepMessage
    index: int
    steps: Sequence[PipelineStep]
    uow: Transaction
    rows: Mapping[int, StepRow] | None = None


#: A step of the engine (`engine.STEP_FUNCTIONS`).
StepFunction = Callable[[StepContext, StepRun], None]


@dataclass
class After:
    """What a step does once its unit of work has committed: publish the messages it wrote
    to the outbox, and announce that the task `started` (its public id) or the task's ending,
    if it ended the task. Given the context's `held`, at the end of the batch."""

    sent: list[OutboxMessage] = field(default_factory=list)
    ended: Ended | None = None
    started: str | None = None

    def run(self, context: StepContext) -> None:
        if context.held is None:
            run_all(context, [self])
        else:
            context.held.hold(self, context)


def run_all(context: StepContext, afters: Sequence[After]) -> None:
    """What `afters` leave to do, together: their messages published in one go (one round
    trip where the queue can, and their marks in one statement) and their announcements in
    one Redis pipeline; then each ending counted and logged."""
    publish_committed(
        database=context.database,
        queue=context.queue,
        messages=[message for after in afters for message in after.sent],
        clock=context.clock,
        marks=context.marks,
    )
    ended = [after.ended for after in afters if after.ended is not None]
    events = [(after.started, "running") for after in afters if after.started is not None]
    events += [(end.task.public_id, end.outcome.status) for end in ended]
    publish_task_events(context.redis, [(task, {"id": task, "status": s}) for task, s in events])
    for end in ended:
        end.record()


class _Held(threading.local):
    def __init__(self) -> None:
        self.afters: list[After] = []
        self.since = 0.0  # time.monotonic() of the oldest held


class HeldUntilBatchEnd:
    """Steps' `After`s held until their batch of messages ends (`Engine.flush`), per thread
    (each consumer thread of the local runtime runs its own batches), so a batch publishes
    its messages and announcements in one round trip each instead of one per step. What has
    been held `max_age_s` goes at once, whatever the batch. A crash before then loses no
    message (the outbox rows are committed: the relay publishes them) and only live
    announcements (a stream starts from the stored task)."""

    def __init__(self, max_age_s: float = HELD_MAX_AGE_S) -> None:
        self.max_age_s = max_age_s
        self._held = _Held()

    @property
    def held(self) -> list[After]:
        """This thread's `After`s not yet run."""
        return list(self._held.afters)

    def hold(self, after: After, context: StepContext) -> None:
        held = self._held
        if not held.afters:
            held.since = time.monotonic()
        held.afters.append(after)
        if time.monotonic() - held.since >= self.max_age_s:
            self.release(context)

    def release(self, context: StepContext) -> int:
        """Run this thread's held `After`s together (`run_all`); how many."""
        afters, self._held.afters = self._held.afters, []
        if afters:
            run_all(context, afters)
        return len(afters)


def send(
    context: StepContext, uow: Transaction, message: StepMessage, *, delay_s: float = 0
) -> OutboxMessage:
    """Write `message` to the outbox in the step's transaction (published by `After`)."""
    return enqueue_in(
        uow, step_queue(message.step), message.body(), delay_s=round(delay_s), clock=context.clock
    )


def next_message(task: Task, index: int, steps: Sequence[PipelineStep]) -> StepMessage:
    """The message of the step after `index`: the pipeline's next, or `finalize`."""
    if index + 1 < len(steps):
        return StepMessage(task.public_id, steps[index + 1].step, index + 1)  # type: ignore[arg-type]
    return StepMessage(task.public_id, "finalize", len(steps), outcome="succeeded")


def previous_step(run: StepRun, kind: str) -> StepRow | None:
    """The row of the latest step of `kind` before the run's (None: the pipeline has none,
    or it has not run)."""
    [found] = previous_steps(run, (kind,))
    return found


def previous_steps(run: StepRun, kinds: Sequence[str]) -> list[StepRow | None]:
    """For each of `kinds`, the row of the latest step of that kind before the run's (None:
    the pipeline has none, or it has not run): those read with the task, or else read in one
    statement. Earlier steps' rows are committed before the run's message is sent."""
    indexes = [previous_index(run.index, kind, run.steps) for kind in kinds]
    wanted = [i for i in indexes if i is not None]
    rows = run.rows
    if rows is None:
        rows = run.uow.repository(StepRepository).get_many(task_id=run.task.id, indexes=wanted)
    return [None if i is None else rows.get(i) for i in indexes]


def previous_index(index: int, kind: str, steps: Sequence[PipelineStep]) -> int | None:
    """The index of the latest step of `kind` before `index` (None: the pipeline has none)."""
    for earlier in range(index - 1, -1, -1):
        if earlier < len(steps) and steps[earlier].step == kind:
            return earlier
    return None


def job_ended(context: StepContext, key: str, *, ok: bool, latency_ms: float | None = None) -> None:
    """Count a vendor job for the provider's health (Redis) and metrics."""
    context.guards.record(key, ok=ok, latency_ms=latency_ms)
    count_provider_job(provider=key, ok=ok, latency_ms=latency_ms)
