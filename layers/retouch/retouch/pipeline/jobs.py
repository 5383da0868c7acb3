"""The vendor jobs of the `generate` step: whether a provider can take one now, what it is
sent (the callback URL with its job's secret token among it), what is kept of its results,
and the best-effort cancel of a job nobody waits for."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from retouch.core.logging import logger
from retouch.pipeline.chain import ChainState, Fail, first_usable, skip
from retouch.pipeline.context import DEFAULT_RETRIES, DEFAULT_TIMEOUT_S, StepContext, StepRun
from retouch.pipeline.repository import StepRepository, StepRow
from retouch.providers.port import JobInput, JobStatus, Provider, serves
from retouch.storage import work_key
from retouch.tasks.records import Task


def unusable_reason(context: StepContext, key: str, task: Task) -> str | None:
    """Why provider `key` cannot take `task`'s job, as far as the instance knows (None: it
    can). Its breaker is asked with its slot (`ProviderGuards.take_slot`), one round trip."""
    provider = context.providers.get(key)
    if provider is None:
        return "no adapter, disabled or not built"
    if not serves(provider, task.feature_key):
        return "not configured for the feature"
    return None


def chain_state(context: StepContext, run: StepRun, row: StepRow) -> ChainState:
    """Where `run`'s `generate` step stands on its provider chain, its row being `row`."""
    spec = run.steps[run.index]
    return ChainState(
        position=row.provider_index,
        attempt=row.attempt,
        fallbacks=tuple(row.fallbacks),
        chain_length=len(spec.providers or ["local"]),
        retries=DEFAULT_RETRIES if spec.retries is None else spec.retries,
        expired=row.deadline_at is not None and context.clock() >= row.deadline_at,
    )


def provider_with_slot(
    context: StepContext, run: StepRun, row: StepRow, *, holder: str, hold_s: float
) -> tuple[ChainState | Fail, bool]:
    """The first provider of the chain, from where the step stands (`row`), that can take the
    job, a slot taken for `holder` — and whether it was (False: its concurrency is full). Its
    breaker is asked in the slot's round trip: open, it takes no slot and the chain moves on,
    recorded as a provider `first_usable` skips."""
    chain, task = run.steps[run.index].providers or ["local"], run.task
    state = chain_state(context, run, row)
    while True:
        found = first_usable(chain, state, lambda key: unusable_reason(context, key, task))
        if isinstance(found, Fail):
            return found, False
        key = chain[found.position]
        limit = context.providers.limit(key)
        answer = context.guards.take_slot(key, holder, limit=limit, hold_s=hold_s)
        if answer != "breaker open":
            return found, answer == "taken"
        state = skip(found, key, "breaker open")


def new_callback_token() -> str:
    """A fresh secret for one vendor job's callback URL (256 bits)."""
    return secrets.token_urlsafe(32)


def callback_token_digest(token: str) -> str:
    """What is kept of a callback token: its SHA-256, hex. The token has 256 bits of entropy,
    so a fast hash suffices, and a read of `task_steps` yields no URL a caller could use."""
    return hashlib.sha256(token.encode()).hexdigest()


def job_input(
    context: StepContext,
    run: StepRun,
    provider: Provider,
    prepared: dict[str, str],
    state: ChainState,
    *,
    callback_token: str | None = None,
) -> JobInput:
    """The job `provider` is sent: the prepared images (signed URLs, or bytes for an
    in-process provider), the other inputs, a token naming this very attempt and, with a
    public base URL and a `callback_token`, where to call back:
    `<base>/v1/callbacks/<provider>/<callback_token>`."""
    task, index = run.task, run.index
    timeout_s = run.steps[index].timeout_s or DEFAULT_TIMEOUT_S
    return JobInput(
        feature=task.feature_key,
        image_urls={
            field: context.storage.presign_download(key, expires_s=timeout_s + 60)
            for field, key in prepared.items()
        },
        params={k: v for k, v in task.inputs.items() if k not in prepared},
        client_token=f"{task.public_id}:{index}:{state.position}:{state.attempt}",
        callback_url=(
            None
            if context.callback_base_url is None or callback_token is None
            else f"{context.callback_base_url}/v1/callbacks/{provider.key}/{callback_token}"
        ),
        image_bytes=(
            {field: context.storage.get(key) for field, key in prepared.items()}
            if getattr(provider, "in_process", False)
            else {}
        ),
    )


def kept_outputs(
    context: StepContext, task: Task, row: StepRow, status: JobStatus
) -> list[dict[str, Any]]:
    """A finished job's results: bytes kept under `work/`, URLs as the vendor gave them."""
    outputs: list[dict[str, Any]] = []
    for n, output in enumerate(status.outputs):
        if output.data is not None:
            key = work_key(task_id=task.public_id, name=f"raw-{row.provider_index}-{n}")
            context.storage.put(key, output.data, "application/octet-stream")
            outputs.append({"key": key})
        elif output.url is not None:
            outputs.append({"url": output.url})
    return outputs


def cancel_quietly(provider: Provider, handle: str) -> None:
    try:
        provider.cancel(handle)
    except Exception:  # noqa: BLE001 - best effort: the task has ended either way
        logger.info("vendor cancel failed", extra={"provider": provider.key})


def abandon(context: StepContext, run: StepRun) -> None:
    """The task ended (canceled, timed out) while a vendor job may run: cancel it."""
    task, index = run.task, run.index
    row = (
        run.uow.repository(StepRepository).get(task_id=task.id, index=index)
        if run.rows is None
        else run.rows.get(index)
    )
    if row is None or row.status != "waiting" or not row.vendor_handle or not row.provider_key:
        return
    provider = context.providers.get(row.provider_key)
    if provider is not None:
        cancel_quietly(provider, row.vendor_handle)
    context.guards.release(row.provider_key, f"{task.public_id}:{index}")
