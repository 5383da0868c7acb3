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
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from retouch.catalog.forms import upload_fields
from retouch.catalog.repository import MySQLFormRepository, MySQLPipelineRepository
from retouch.catalog.schemas import PipelineStep
from retouch.core.db import Database, UnitOfWork
from retouch.core.logging import logger
from retouch.core.redis import RedisClient
from retouch.core.time import Clock, utc_now
from retouch.notify import publish_task_event
from retouch.pipeline.guards import ProviderGuards
from retouch.pipeline.messages import StepMessage, step_queue
from retouch.pipeline.metrics import count_fallback, count_provider_job
from retouch.pipeline.repository import MySQLPipelineRepository as TaskTransitions
from retouch.pipeline.repository import MySQLStepRepository, StepRow
from retouch.pipeline.service import Outcome, finish_task
from retouch.pipeline.sources import ProviderSource
from retouch.providers.port import (
    JobInput,
    JobStatus,
    Provider,
    ProviderBusy,
    ProviderError,
    ProviderPermanent,
    ProviderRetryable,
    ProviderUnavailable,
    serves,
)
from retouch.queue.messages import InvalidMessage
from retouch.queue.outbox import OutboxMessage, enqueue_in, publish_committed
from retouch.queue.port import QueuePort
from retouch.storage import Storage, output_key, work_key
from retouch.tasks.records import TERMINAL, StoredImage, Task
from retouch.tasks.repository import MySQLTaskRepository
from retouch.uploads.inspection import NotAnImage, inspect_image

DEFAULT_TIMEOUT_S = 120
DEFAULT_RETRIES = 2
MAX_POLL_DELAY_S = 20
Normalizer = Callable[[bytes], bytes]
Fetcher = Callable[[str, Provider], bytes]


@dataclass
class Engine:
    """Everything a step needs; built once per function instance (see `handlers.py`)."""

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

    # --- moving on --------------------------------------------------------------------------

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

    # --- prepare ----------------------------------------------------------------------------

    def _prepare(self, task: Task, index: int, steps: Sequence[PipelineStep]) -> None:
        now = self.clock()
        with self.database.unit_of_work() as uow:
            row = MySQLStepRepository(uow).begin(
                task_id=task.id, index=index, step="prepare", now=now, deadline_at=None
            )
            if row.status != "running":
                uow.commit()
                return
            started = TaskTransitions(uow).start(task.public_id, now=now)
            form = MySQLFormRepository(uow).get(task.feature_key, task.form_version)
            fields = {} if form is None else upload_fields(form, task.inputs)
            keys = _upload_keys(uow, task, fields)
            try:
                prepared = {field: self._prepared(task, field, key) for field, key in keys.items()}
            except ValueError as exc:
                uow.rollback()
                self._fail(task, code="INPUT_UNPROCESSABLE", detail=f"prepare: {exc}")
                return
            MySQLStepRepository(uow).succeed(row.id, state={"inputs": prepared}, now=now)
            sent = self._send(uow, self._next(task, index, steps))
            uow.commit()
        if started:
            publish_task_event(
                self.redis, task.public_id, {"id": task.public_id, "status": "running"}
            )
        self._publish([sent])

    def _prepared(self, task: Task, field: str, key: str | None) -> str:
        if key is None:
            raise ValueError(f"input {field} is not a ready upload of the task's owner")
        data = self.normalize(self.storage.get(key))
        target = work_key(task_id=task.public_id, name=f"in-{field}.png")
        self.storage.put(target, data, "image/png")
        return target

    # --- generate ---------------------------------------------------------------------------

    def _generate(self, task: Task, index: int, steps: Sequence[PipelineStep]) -> None:
        spec = steps[index]
        now = self.clock()
        timeout_s = spec.timeout_s or DEFAULT_TIMEOUT_S
        with self.database.unit_of_work() as uow:
            repo = MySQLStepRepository(uow)
            row = repo.begin(
                task_id=task.id,
                index=index,
                step="generate",
                now=now,
                deadline_at=now + timedelta(seconds=timeout_s),
            )
            if row.status in ("succeeded", "failed"):
                uow.commit()
                return
            prepared = _prepared_inputs(uow, task, index)
            if row.status == "waiting" and row.vendor_handle and row.provider_key:
                self._poll(uow, task, index, steps, row)
                return
            self._submit(uow, task, index, steps, row, prepared)

    def _submit(
        self,
        uow: UnitOfWork,
        task: Task,
        index: int,
        steps: Sequence[PipelineStep],
        row: StepRow,
        prepared: dict[str, str],
    ) -> None:
        spec, now = steps[index], self.clock()
        chain = spec.providers or ["local"]
        position, fallbacks = row.provider_index, list(row.fallbacks)
        provider = None
        while position < len(chain):
            key = chain[position]
            provider = self.providers.get(key)
            if (
                provider is not None
                and serves(provider, task.feature_key)
                and not self.guards.is_open(key)
            ):
                break
            if provider is None:
                reason = "no adapter, disabled or not built"
            elif not serves(provider, task.feature_key):
                reason = "not configured for the feature"
            else:
                reason = "breaker open"
            fallbacks.append({"provider": key, "code": "UNAVAILABLE", "detail": reason})
            count_fallback(provider=key, reason="UNAVAILABLE")
            provider, position = None, position + 1
        if provider is None:
            uow.rollback()
            self._give_up(task, index, fallbacks, "no provider of the chain is available")
            return
        if position != row.provider_index:
            MySQLStepRepository(uow).retry(
                row.id, provider_index=position, attempt=0, fallbacks=fallbacks
            )
        holder = f"{task.public_id}:{index}"
        timeout_s = spec.timeout_s or DEFAULT_TIMEOUT_S
        if not self.guards.acquire(
            provider.key, holder, limit=self.providers.limit(provider.key), hold_s=timeout_s
        ):
            busy = ProviderBusy("concurrency limit reached")
            self._later(uow, task, index, row, busy, position, steps=steps, key=provider.key)
            return
        job = JobInput(
            feature=task.feature_key,
            image_urls={
                field: self.storage.presign_download(key, expires_s=timeout_s + 60)
                for field, key in prepared.items()
            },
            params={k: v for k, v in task.inputs.items() if k not in prepared},
            client_token=f"{task.public_id}:{index}:{position}:{row.attempt}",
            callback_url=(
                None
                if self.callback_base_url is None
                else f"{self.callback_base_url}/v1/callbacks/{provider.key}"
            ),
            image_bytes=(
                {field: self.storage.get(key) for field, key in prepared.items()}
                if getattr(provider, "in_process", False)
                else {}
            ),
        )
        try:
            submitted = provider.submit(job)
        except ProviderError as error:
            self.guards.release(provider.key, holder)
            self._provider_failed(uow, task, index, steps, row, provider.key, position, error)
            return
        # The handle is committed before anything else happens.
        MySQLStepRepository(uow).submitted(
            row.id, provider_key=provider.key, handle=submitted.handle, now=now
        )
        uow.commit()
        logger.info("job submitted", extra={"task": task.public_id, "provider": provider.key})
        if submitted.status is not None:
            with self.database.unit_of_work() as again:
                current = MySQLStepRepository(again).begin(
                    task_id=task.id, index=index, step="generate", now=now, deadline_at=None
                )
                self._settle_job(again, task, index, steps, current, provider, submitted.status)
            return
        with self.database.unit_of_work() as again:
            sent = self._send(again, StepMessage(task.public_id, "generate", index), delay_s=1)
            again.commit()
        self._publish([sent])

    def _poll(
        self, uow: UnitOfWork, task: Task, index: int, steps: Sequence[PipelineStep], row: StepRow
    ) -> None:
        key = str(row.provider_key)
        provider = self.providers.get(key)
        expired = row.deadline_at is not None and self.clock() >= row.deadline_at
        if provider is None or expired:
            if provider is not None:
                _cancel_quietly(provider, str(row.vendor_handle))
                # The job is given up: its concurrency slot goes back now, not when it expires.
                self.guards.release(key, f"{task.public_id}:{index}")
            reason = "provider gone" if provider is None else "step deadline passed"
            self._provider_failed(
                uow, task, index, steps, row, key, row.provider_index, ProviderRetryable(reason)
            )
            return
        try:
            status = provider.poll(str(row.vendor_handle))
        except ProviderError as error:
            status = (
                JobStatus(state="pending")
                if error.retryable
                else JobStatus(state="failed", error=error)
            )
        self._settle_job(uow, task, index, steps, row, provider, status)

    def _settle_job(
        self,
        uow: UnitOfWork,
        task: Task,
        index: int,
        steps: Sequence[PipelineStep],
        row: StepRow,
        provider: Provider,
        status: JobStatus,
    ) -> None:
        holder = f"{task.public_id}:{index}"
        if status.state == "pending":
            MySQLStepRepository(uow).polled(row.id)
            delay = min(2 ** min(row.polls, 5), MAX_POLL_DELAY_S)
            sent = self._send(uow, StepMessage(task.public_id, "generate", index), delay_s=delay)
            uow.commit()
            self._publish([sent])
            return
        self.guards.release(provider.key, holder)
        if status.state == "failed":
            error = status.error or ProviderRetryable("the job failed without a reason")
            self._provider_failed(
                uow, task, index, steps, row, provider.key, row.provider_index, error
            )
            return
        outputs = []
        for n, output in enumerate(status.outputs):
            if output.data is not None:
                key = work_key(task_id=task.public_id, name=f"raw-{row.provider_index}-{n}")
                self.storage.put(key, output.data, "application/octet-stream")
                outputs.append({"key": key})
            elif output.url is not None:
                outputs.append({"url": output.url})
        # The breaker's count closes now; health counts the job once `store` has kept a real
        # image from it (a garbage result is a failure of the vendor's, not a success).
        self.guards.succeeded(provider.key)
        latency_ms = (
            None
            if row.submitted_at is None
            else round((self.clock() - row.submitted_at).total_seconds() * 1000, 1)
        )
        MySQLStepRepository(uow).succeed(
            row.id,
            state={"provider": provider.key, "outputs": outputs, "latency_ms": latency_ms},
            now=self.clock(),
        )
        sent = self._send(uow, self._next(task, index, steps))
        uow.commit()
        self._publish([sent])

    def _provider_failed(
        self,
        uow: UnitOfWork,
        task: Task,
        index: int,
        steps: Sequence[PipelineStep],
        row: StepRow,
        key: str,
        position: int,
        error: ProviderError,
    ) -> None:
        logger.info(
            "provider error",
            extra={"task": task.public_id, "provider": key, "retryable": error.retryable},
        )
        if isinstance(error, ProviderPermanent):
            MySQLStepRepository(uow).fail(
                row.id, code="INPUT_UNPROCESSABLE", detail=error.detail, now=self.clock()
            )
            uow.commit()
            self._fail(task, code="INPUT_UNPROCESSABLE", detail=f"{key}: {error.detail}")
            return
        if not isinstance(error, ProviderBusy):
            self.guards.failed(key)
            self._job_ended(key, ok=False)
        self._later(uow, task, index, row, error, position, steps=steps, key=key)

    def _job_ended(self, key: str, *, ok: bool, latency_ms: float | None = None) -> None:
        """Count a vendor job for the provider's health (Redis) and metrics."""
        self.guards.record(key, ok=ok, latency_ms=latency_ms)
        count_provider_job(provider=key, ok=ok, latency_ms=latency_ms)

    def _later(
        self,
        uow: UnitOfWork,
        task: Task,
        index: int,
        row: StepRow,
        error: ProviderError,
        position: int,
        *,
        steps: Sequence[PipelineStep],
        key: str,
    ) -> None:
        """Retry the same provider after a backoff, or move to the next one (recorded)."""
        configured = steps[index].retries
        spec_retries = DEFAULT_RETRIES if configured is None else configured
        expired = row.deadline_at is not None and self.clock() >= row.deadline_at
        busy = isinstance(error, ProviderBusy)
        # The vendor cannot serve us (key, account, configuration): no retry can help here.
        worth_retrying = not isinstance(error, ProviderUnavailable) and row.attempt < spec_retries
        repo = MySQLStepRepository(uow)
        if not expired and (busy or worth_retrying):
            attempt = row.attempt if busy else row.attempt + 1
            repo.retry(row.id, provider_index=position, attempt=attempt, fallbacks=row.fallbacks)
            delay = _backoff(attempt)
            sent = self._send(
                uow,
                StepMessage(task.public_id, "generate", index, attempt=attempt + 1),
                delay_s=delay,
            )
        else:
            fallbacks = [
                *row.fallbacks,
                {"provider": key, "code": type(error).__name__, "detail": error.detail[:200]},
            ]
            repo.retry(row.id, provider_index=position + 1, attempt=0, fallbacks=fallbacks)
            logger.info("provider fallback", extra={"task": task.public_id, "provider": key})
            count_fallback(provider=str(key), reason=type(error).__name__)
            sent = self._send(uow, StepMessage(task.public_id, "generate", index))
        uow.commit()
        self._publish([sent])

    def _give_up(self, task: Task, index: int, fallbacks: list[Any], detail: str) -> None:
        with self.database.unit_of_work() as uow:
            repo = MySQLStepRepository(uow)
            row = repo.get(task_id=task.id, index=index)
            if row is not None:
                repo.retry(
                    row.id,
                    provider_index=row.provider_index,
                    attempt=row.attempt,
                    fallbacks=fallbacks,
                )
                repo.fail(row.id, code="GENERATION_FAILED", detail=detail, now=self.clock())
            uow.commit()
        self._fail(task, code="GENERATION_FAILED", detail=detail)

    def _abandon(self, task: Task, index: int) -> None:
        """The task ended (canceled, timed out) while a vendor job may run: cancel it."""
        with self.database.read_only() as uow:
            row = MySQLStepRepository(uow).get(task_id=task.id, index=index)
        if row is None or row.status != "waiting" or not row.vendor_handle or not row.provider_key:
            return
        provider = self.providers.get(row.provider_key)
        if provider is not None:
            _cancel_quietly(provider, row.vendor_handle)
        self.guards.release(row.provider_key, f"{task.public_id}:{index}")

    # --- store ------------------------------------------------------------------------------

    def _store(self, task: Task, index: int, steps: Sequence[PipelineStep]) -> None:
        now = self.clock()
        with self.database.unit_of_work() as uow:
            repo = MySQLStepRepository(uow)
            row = repo.begin(task_id=task.id, index=index, step="store", now=now, deadline_at=None)
            if row.status != "running":
                uow.commit()
                return
            generate = _previous(repo, task, index, "generate", steps)
            if generate is None:
                uow.rollback()
                self._fail(task, code="GENERATION_FAILED", detail="store without a generate step")
                return
            key = str(generate.state.get("provider"))
            provider = self.providers.get(key)
            try:
                images = [
                    self._kept(task, n, output, provider)
                    for n, output in enumerate(generate.state.get("outputs", []))
                ]
                if not images:
                    raise NotAnImage("the provider returned no image")
            except (NotAnImage, ProviderError) as exc:
                # Garbage or nothing: the next provider of the chain gets the job.
                self.guards.failed(key)
                self._job_ended(key, ok=False)
                fallbacks = [
                    *generate.fallbacks,
                    {"provider": key, "code": "BAD_RESULT", "detail": str(exc)[:200]},
                ]
                count_fallback(provider=key, reason="BAD_RESULT")
                repo.forget(row.id)
                repo.retry(
                    generate.id,
                    provider_index=generate.provider_index + 1,
                    attempt=0,
                    fallbacks=fallbacks,
                )
                sent = self._send(uow, StepMessage(task.public_id, "generate", generate.step_index))
                uow.commit()
                self._publish([sent])
                return
            state = {
                "images": [{"key": i.key, "width": i.width, "height": i.height} for i in images]
            }
            repo.succeed(row.id, state=state, now=now)
            sent = self._send(uow, self._next(task, index, steps))
            uow.commit()
        latency = generate.state.get("latency_ms")
        self._job_ended(
            key, ok=True, latency_ms=float(latency) if isinstance(latency, int | float) else None
        )
        self._publish([sent])

    def _kept(
        self, task: Task, n: int, output: dict[str, Any], provider: Provider | None
    ) -> StoredImage:
        if "key" in output:
            data = self.storage.get(str(output["key"]))
        elif provider is not None:
            data = self.fetch(str(output["url"]), provider)
        else:
            raise ProviderRetryable("the provider of this result is gone")
        header = inspect_image(data)  # NotAnImage for empty or garbage bytes
        extension = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}[
            header.content_type
        ]
        key = output_key(task_id=task.public_id, name=f"{n}.{extension}")
        self.storage.put(key, data, header.content_type)
        return StoredImage(key=key, width=header.width, height=header.height)

    # --- finalize ---------------------------------------------------------------------------

    def _finalize(self, task: Task, message: StepMessage, steps: Sequence[PipelineStep]) -> None:
        if message.outcome == "failed":
            self._fail(task, code=message.error_code or "GENERATION_FAILED", detail="finalize")
            return
        with self.database.read_only() as uow:
            repo = MySQLStepRepository(uow)
            store = _previous(repo, task, len(steps), "store", steps)
            generate = _previous(repo, task, len(steps), "generate", steps)
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


def _upload_keys(uow: UnitOfWork, task: Task, fields: dict[str, str]) -> dict[str, str | None]:
    """The object keys of the uploads the inputs name (still ready and the owner's)."""
    if not fields:
        return {}
    rows = uow.fetch_all(
        "SELECT public_id, object_key FROM uploads WHERE user_id = %s AND status = 'ready' "
        "AND public_id IN %s",
        (task.user_id, tuple(sorted(set(fields.values())))),
    )
    keys = {row["public_id"]: row["object_key"] for row in rows}
    return {field: keys.get(upload_id) for field, upload_id in fields.items()}


def _prepared_inputs(uow: UnitOfWork, task: Task, index: int) -> dict[str, str]:
    """What the latest `prepare` before `index` kept (field → work key)."""
    repo = MySQLStepRepository(uow)
    for earlier in range(index - 1, -1, -1):
        row = repo.get(task_id=task.id, index=earlier)
        if row is not None and row.step == "prepare" and row.status == "succeeded":
            return dict(row.state.get("inputs", {}))
    return {}


def _previous(
    repo: MySQLStepRepository, task: Task, index: int, kind: str, steps: Sequence[PipelineStep]
) -> StepRow | None:
    for earlier in range(index - 1, -1, -1):
        if earlier < len(steps) and steps[earlier].step == kind:
            return repo.get(task_id=task.id, index=earlier)
    return None


def _backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: up to 2, 4, 8… seconds, at most 60."""
    return random.uniform(0, min(60.0, 2.0 ** max(attempt, 1)))  # noqa: S311 - jitter, not secrets


def _cancel_quietly(provider: Provider, handle: str) -> None:
    try:
        provider.cancel(handle)
    except Exception:  # noqa: BLE001 - best effort: the task has ended either way
        logger.info("vendor cancel failed", extra={"provider": provider.key})
