"""The `generate` step of the engine: submit, poll, settle; its moves along the provider chain
are decided in `chain.py` and applied here (`apply`).

The step's unit of work commits at two points, both here: once the moment a vendor accepts a
job (its handle), and once at the end of the step."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import timedelta

from retouch.core.logging import logger
from retouch.core.units import Transaction
from retouch.pipeline.chain import (
    ChainState,
    Decision,
    Fail,
    Fallback,
    Retry,
    Wait,
    after_failure,
    poll_delay,
)
from retouch.pipeline.context import (
    DEFAULT_TIMEOUT_S,
    MAX_POLL_DELAY_S,
    After,
    StepContext,
    StepRun,
    job_ended,
    next_message,
    previous_step,
    send,
)
from retouch.pipeline.jobs import (
    callback_token_digest,
    cancel_quietly,
    chain_state,
    job_input,
    kept_outputs,
    new_callback_token,
    provider_with_slot,
)
from retouch.pipeline.messages import StepMessage
from retouch.pipeline.metrics import count_fallback
from retouch.pipeline.repository import StepRepository, StepRow
from retouch.pipeline.rows import submitted_row
from retouch.providers.port import (
    JobStatus,
    Provider,
    ProviderBusy,
    ProviderError,
    ProviderPermanent,
    ProviderRetryable,
)
from retouch.tasks.lifecycle import Outcome, end_task


def run_generate(context: StepContext, run: StepRun) -> None:
    """`generate`: the provider chain. A provider without an adapter, disabled, not
    configured for the feature or with its breaker open is skipped (recorded as a
    fallback). Completion is polled by delayed messages with growing delay (or prompted by
    a callback) until the step's deadline. Results are kept under `work/` (bytes) or as
    vendor URLs; then `store`."""
    now, uow = context.clock(), run.uow
    timeout_s = run.steps[run.index].timeout_s or DEFAULT_TIMEOUT_S
    row = uow.repository(StepRepository).begin(
        task_id=run.task.id,
        index=run.index,
        step="generate",
        now=now,
        deadline_at=now + timedelta(seconds=timeout_s),
    )
    if row.status in ("succeeded", "failed"):
        after = After()
    elif run.message.prompt:
        after = _prompted(context, uow, run, row)
    elif row.status == "waiting" and row.vendor_handle and row.provider_key:
        after = _poll(context, uow, run, row)
    else:
        after = _submit(context, uow, run, row)
    uow.commit()  # commit point 2 of 2: the end of the step
    after.run(context)


def _submit(context: StepContext, uow: Transaction, run: StepRun, row: StepRow) -> After:
    """Send the job to the first usable provider of the chain from where the step stands."""
    task, index = run.task, run.index
    chain = run.steps[index].providers or ["local"]
    holder = f"{task.public_id}:{index}"
    timeout_s = run.steps[index].timeout_s or DEFAULT_TIMEOUT_S
    found, taken = provider_with_slot(context, run, row, holder=holder, hold_s=timeout_s)
    for skipped in found.fallbacks[len(row.fallbacks) :]:
        count_fallback(provider=skipped["provider"], reason="UNAVAILABLE")
    if isinstance(found, Fail):
        return apply(context, uow, run, row, found, chain_state(context, run, row))
    state, steps = found, uow.repository(StepRepository)
    if state.position != row.provider_index:
        fallbacks = list(state.fallbacks)
        steps.retry(row.id, provider_index=state.position, attempt=0, fallbacks=fallbacks)
    provider = context.providers.get(chain[state.position])
    assert provider is not None  # noqa: S101 - `first_usable` just found it usable
    if not taken:
        busy = ProviderBusy("concurrency limit reached")
        return _failed(context, uow, run, row, state, provider.key, busy)
    prepare = previous_step(run, "prepare")
    prepared = {} if prepare is None or prepare.status != "succeeded" else prepare.state["inputs"]
    # Each job gets its own callback secret; only its digest is kept, beside the handle.
    token = None if context.callback_base_url is None else new_callback_token()
    job = job_input(context, run, provider, prepared, state, callback_token=token)
    try:
        submitted = provider.submit(job)
    except ProviderError as error:
        context.guards.release(provider.key, holder)
        return _failed(context, uow, run, row, state, provider.key, error)
    now, digest = context.clock(), None if token is None else callback_token_digest(token)
    steps.submitted(
        row.id,
        provider_key=provider.key,
        handle=submitted.handle,
        now=now,
        callback_token_hash=digest,
    )
    # Commit point 1 of 2: the vendor's handle is committed the moment `submit` returns,
    # before anything else happens, so a crash cannot orphan a paid job (a redelivered
    # message, or the reaper's re-drive, finds the handle and polls the job).
    uow.commit()
    logger.info("job submitted", extra={"task": task.public_id, "provider": provider.key})
    if submitted.status is None:
        message = StepMessage(task.public_id, "generate", index)
        return After([send(context, uow, message, delay_s=1)])
    written = submitted_row(
        row,
        at=state.position,
        attempt=state.attempt,
        fallbacks=list(state.fallbacks),
        provider_key=provider.key,
        handle=submitted.handle,
        submitted_at=now,
        callback_token_hash=digest,
    )
    return _settled_at_once(context, uow, run, written, provider, submitted.status)


def _settled_at_once(
    context: StepContext,
    uow: Transaction,
    run: StepRun,
    written: StepRow,
    provider: Provider,
    status: JobStatus,
) -> After:
    """The vendor answered the submit with the job's end: settle it in a new transaction,
    the row locked again. A second delivery, waiting on that lock until the handle's commit,
    may have polled and settled the job meanwhile: then nothing is left to do. The rest of
    the row is `written`, as this step wrote it: only what may have moved since is read."""
    job = uow.repository(StepRepository).lock_job(task_id=run.task.id, index=run.index)
    if job is None or job.status != "waiting" or job.vendor_handle != written.vendor_handle:
        return After()
    current = dataclasses.replace(written, polls=job.polls)
    return _settle_job(context, uow, run, current, provider, status)


def _prompted(context: StepContext, uow: Transaction, run: StepRun, row: StepRow) -> After:
    """A callback's prompt: ask the vendor now and settle the job if it succeeded. Waiting,
    failures and deadlines stay with the job's own chain of polls (a prompt that moved them
    would leave two chains running), and a step not waiting on a job is left alone."""
    provider = context.providers.get(str(row.provider_key))
    over = row.status != "waiting" or chain_state(context, run, row).expired
    if over or not row.vendor_handle or provider is None:
        return After()
    with contextlib.suppress(ProviderError):
        status = provider.poll(row.vendor_handle)
        if status.state == "succeeded":
            return _settle_job(context, uow, run, row, provider, status)
    return After()


def _poll(context: StepContext, uow: Transaction, run: StepRun, row: StepRow) -> After:
    key = str(row.provider_key)
    provider = context.providers.get(key)
    state = chain_state(context, run, row)
    if provider is None or state.expired:
        if provider is not None:
            cancel_quietly(provider, str(row.vendor_handle))
            # The job is given up: its concurrency slot goes back now, not when it expires.
            context.guards.release(key, f"{run.task.public_id}:{run.index}")
        reason = "provider gone" if provider is None else "step deadline passed"
        return _failed(context, uow, run, row, state, key, ProviderRetryable(reason))
    try:
        status = provider.poll(str(row.vendor_handle))
    except ProviderError as error:
        status = (
            JobStatus(state="pending")
            if error.retryable
            else JobStatus(state="failed", error=error)
        )
    return _settle_job(context, uow, run, row, provider, status)


def _settle_job(
    context: StepContext,
    uow: Transaction,
    run: StepRun,
    row: StepRow,
    provider: Provider,
    status: JobStatus,
) -> After:
    task, index, steps = run.task, run.index, uow.repository(StepRepository)
    if status.state == "pending":
        steps.polled(row.id)
        wait = poll_delay(row.polls, MAX_POLL_DELAY_S)
        message = StepMessage(task.public_id, "generate", index)
        return After([send(context, uow, message, delay_s=wait.delay_s)])
    holder = f"{task.public_id}:{index}"
    if status.state == "failed":
        context.guards.release(provider.key, holder)
        error = status.error or ProviderRetryable("the job failed without a reason")
        state = chain_state(context, run, row)
        return _failed(context, uow, run, row, state, provider.key, error)
    # Slot back, breaker count closed (one round trip); health counts the job once `store`
    # kept a real image from it (a garbage result is the vendor's failure, not a success).
    context.guards.job_succeeded(provider.key, holder)
    outputs = kept_outputs(context, task, row, status)
    latency_ms = (
        None
        if row.submitted_at is None
        else round((context.clock() - row.submitted_at).total_seconds() * 1000, 1)
    )
    steps.succeed(
        row.id,
        state={"provider": provider.key, "outputs": outputs, "latency_ms": latency_ms},
        now=context.clock(),
    )
    return After([send(context, uow, next_message(task, index, run.steps))])


def _failed(
    context: StepContext,
    uow: Transaction,
    run: StepRun,
    row: StepRow,
    state: ChainState,
    key: str,
    error: ProviderError,
) -> After:
    """Provider `key` failed the step: count it, then apply the chain's decision."""
    logger.info(
        "provider error",
        extra={"task": run.task.public_id, "provider": key, "retryable": error.retryable},
    )
    if not isinstance(error, ProviderPermanent | ProviderBusy):
        context.guards.failed(key)
        job_ended(context, key, ok=False)
    decision = after_failure(state, key, error)
    logger.debug(
        "step decision",
        extra={"task": run.task.public_id, "provider": key, "decision": type(decision).__name__},
    )
    if isinstance(decision, Fallback) or (isinstance(decision, Fail) and decision.exhausted):
        logger.info("provider fallback", extra={"task": run.task.public_id, "provider": key})
        count_fallback(provider=key, reason=type(error).__name__)
    return apply(context, uow, run, row, decision, state)


def apply(
    context: StepContext,
    uow: Transaction,
    run: StepRun,
    row: StepRow,
    decision: Decision,
    state: ChainState,
) -> After:
    """Write `decision`, taken at `state`, in the step's unit of work (no commit): the step's
    row, the next message or the task's ending."""
    steps = uow.repository(StepRepository)
    task, index = run.task, run.index
    at, fallbacks = state.position, list(state.fallbacks)
    if isinstance(decision, Retry | Wait):
        attempt = decision.attempt if isinstance(decision, Retry) else state.attempt
        steps.retry(row.id, provider_index=at, attempt=attempt, fallbacks=fallbacks)
        message = StepMessage(task.public_id, "generate", index, attempt=attempt + 1)
        return After([send(context, uow, message, delay_s=decision.delay_s)])
    if isinstance(decision, Fallback):
        fallbacks = list(decision.fallbacks)
        steps.retry(row.id, provider_index=decision.next_position, attempt=0, fallbacks=fallbacks)
        return After([send(context, uow, StepMessage(task.public_id, "generate", index))])
    if decision.fallbacks:
        steps.retry(
            row.id, provider_index=at, attempt=state.attempt, fallbacks=list(decision.fallbacks)
        )
    steps.fail(row.id, code=decision.code, detail=decision.detail, now=context.clock())
    outcome = Outcome(status="failed", error_code=decision.code, error_detail=decision.detail)
    return After(ended=end_task(uow, task, outcome, now=context.clock()))
