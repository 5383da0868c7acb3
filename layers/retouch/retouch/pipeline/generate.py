"""The `generate` step of the engine: submit, poll, settle (moves along the chain:
`chain.py`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from retouch.catalog.schemas import PipelineStep
from retouch.core.db import UnitOfWork
from retouch.core.logging import logger
from retouch.pipeline.chain import ChainMoves
from retouch.pipeline.context import DEFAULT_TIMEOUT_S, MAX_POLL_DELAY_S, Attempt
from retouch.pipeline.messages import StepMessage
from retouch.pipeline.metrics import count_fallback
from retouch.pipeline.repository import MySQLStepRepository
from retouch.providers.port import (
    JobInput,
    JobStatus,
    Provider,
    ProviderBusy,
    ProviderError,
    ProviderRetryable,
    serves,
)
from retouch.storage import work_key
from retouch.tasks.records import Task


class GenerateStep(ChainMoves):
    """`generate`: the provider chain. A provider without an adapter, disabled, not
    configured for the feature or with its breaker open is skipped (recorded as a
    fallback). The vendor's handle is committed the moment `submit` returns; completion is
    polled by delayed messages with growing delay (or prompted by a callback) until the
    step's deadline. Results are kept under `work/` (bytes) or as vendor URLs; then `store`."""

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
            run = Attempt(uow, task, index, steps, row)
            if row.status == "waiting" and row.vendor_handle and row.provider_key:
                self._poll(run)
                return
            self._submit(run, _prepared_inputs(uow, task, index))

    def _submit(self, run: Attempt, prepared: dict[str, str]) -> None:
        uow, task, index, row = run.uow, run.task, run.index, run.row
        spec, now = run.steps[index], self.clock()
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
            self._later(run, busy, position, key=provider.key)
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
            self._provider_failed(run, provider.key, position, error)
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
                again_run = Attempt(again, task, index, run.steps, current)
                self._settle_job(again_run, provider, submitted.status)
            return
        with self.database.unit_of_work() as again:
            sent = self._send(again, StepMessage(task.public_id, "generate", index), delay_s=1)
            again.commit()
        self._publish([sent])

    def _poll(self, run: Attempt) -> None:
        task, index, row = run.task, run.index, run.row
        key = str(row.provider_key)
        provider = self.providers.get(key)
        expired = row.deadline_at is not None and self.clock() >= row.deadline_at
        if provider is None or expired:
            if provider is not None:
                _cancel_quietly(provider, str(row.vendor_handle))
                # The job is given up: its concurrency slot goes back now, not when it expires.
                self.guards.release(key, f"{task.public_id}:{index}")
            reason = "provider gone" if provider is None else "step deadline passed"
            self._provider_failed(run, key, row.provider_index, ProviderRetryable(reason))
            return
        try:
            status = provider.poll(str(row.vendor_handle))
        except ProviderError as error:
            status = (
                JobStatus(state="pending")
                if error.retryable
                else JobStatus(state="failed", error=error)
            )
        self._settle_job(run, provider, status)

    def _settle_job(self, run: Attempt, provider: Provider, status: JobStatus) -> None:
        uow, task, index, row = run.uow, run.task, run.index, run.row
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
            self._provider_failed(run, provider.key, row.provider_index, error)
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
        sent = self._send(uow, self._next(task, index, run.steps))
        uow.commit()
        self._publish([sent])

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


def _prepared_inputs(uow: UnitOfWork, task: Task, index: int) -> dict[str, str]:
    """What the latest `prepare` before `index` kept (field → work key)."""
    repo = MySQLStepRepository(uow)
    for earlier in range(index - 1, -1, -1):
        row = repo.get(task_id=task.id, index=earlier)
        if row is not None and row.step == "prepare" and row.status == "succeeded":
            return dict(row.state.get("inputs", {}))
    return {}


def _cancel_quietly(provider: Provider, handle: str) -> None:
    try:
        provider.cancel(handle)
    except Exception:  # noqa: BLE001 - best effort: the task has ended either way
        logger.info("vendor cancel failed", extra={"provider": provider.key})
