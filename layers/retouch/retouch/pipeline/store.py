"""The `store` step of the engine."""

from __future__ import annotations

from typing import Any

from retouch.core.settings import get_settings
from retouch.core.units import Transaction
from retouch.images.inspection import NotAnImage, inspect_within
from retouch.pipeline.context import (
    After,
    StepContext,
    StepRun,
    job_ended,
    next_message,
    previous_step,
    send,
)
from retouch.pipeline.messages import StepMessage
from retouch.pipeline.metrics import count_fallback
from retouch.pipeline.repository import StepRepository, StepRow
from retouch.providers.port import Provider, ProviderError, ProviderRetryable
from retouch.storage import output_key
from retouch.tasks.lifecycle import Outcome, end_task
from retouch.tasks.records import StoredImage, Task


def run_store(context: StepContext, run: StepRun) -> None:
    """`store`: the results are fetched (vendor URLs only from the provider's own hosts),
    checked to be real images (magic bytes, and dimensions within the pixel cap) and copied to
    `outputs/<task>/`; an empty or non-image result sends the task back to `generate` with
    the next provider (a failure of that vendor's)."""
    now, uow = context.clock(), run.uow
    row = uow.repository(StepRepository).begin(
        task_id=run.task.id, index=run.index, step="store", now=now, deadline_at=None
    )
    after, healthy = (After(), None) if row.status != "running" else _store(context, uow, run, row)
    uow.commit()
    if healthy is not None:  # the vendor's job counts as healthy once a real image is kept
        key, latency = healthy
        latency_ms = float(latency) if isinstance(latency, int | float) else None
        job_ended(context, key, ok=True, latency_ms=latency_ms)
    after.run(context)


def _store(
    context: StepContext, uow: Transaction, run: StepRun, row: StepRow
) -> tuple[After, tuple[str, Any] | None]:
    """Keep the latest `generate`'s results: the step's moves, and the provider to count as
    healthy (with its latency) when they were real images."""
    task, now = run.task, context.clock()
    steps = uow.repository(StepRepository)
    generate = previous_step(run, "generate")
    if generate is None:
        detail = "store without a generate step"
        steps.fail(row.id, code="GENERATION_FAILED", detail=detail, now=now)
        outcome = Outcome("failed", error_code="GENERATION_FAILED", error_detail=detail)
        return After(ended=end_task(uow, task, outcome, now=now)), None
    key = str(generate.state.get("provider"))
    try:
        images = _kept_all(context, task, generate, context.providers.get(key))
    except (NotAnImage, ProviderError) as exc:
        return _bad_result(context, uow, run, row, generate, key, exc), None
    state = {"images": [{"key": i.key, "width": i.width, "height": i.height} for i in images]}
    steps.succeed(row.id, state=state, now=now)
    after = After([send(context, uow, next_message(task, run.index, run.steps))])
    return after, (key, generate.state.get("latency_ms"))


def _bad_result(
    context: StepContext,
    uow: Transaction,
    run: StepRun,
    row: StepRow,
    generate: StepRow,
    key: str,
    exc: Exception,
) -> After:
    """Garbage or nothing: the next provider of the chain gets the job."""
    context.guards.failed(key)
    job_ended(context, key, ok=False)
    fallbacks = [
        *generate.fallbacks,
        {"provider": key, "code": "BAD_RESULT", "detail": str(exc)[:200]},
    ]
    count_fallback(provider=key, reason="BAD_RESULT")
    steps = uow.repository(StepRepository)
    steps.forget(row.id)
    steps.retry(
        generate.id, provider_index=generate.provider_index + 1, attempt=0, fallbacks=fallbacks
    )
    message = StepMessage(run.task.public_id, "generate", generate.step_index)
    return After([send(context, uow, message)])


def _kept_all(
    context: StepContext, task: Task, generate: StepRow, provider: Provider | None
) -> list[StoredImage]:
    images = [
        _kept(context, task, n, output, provider)
        for n, output in enumerate(generate.state.get("outputs", []))
    ]
    if not images:
        raise NotAnImage("the provider returned no image")
    return images


def _kept(
    context: StepContext, task: Task, n: int, output: dict[str, Any], provider: Provider | None
) -> StoredImage:
    if "key" in output:
        data = context.storage.get(str(output["key"]))
    elif provider is not None:
        data = context.fetch(str(output["url"]), provider)
    else:
        raise ProviderRetryable("the provider of this result is gone")
    # NotAnImage for empty or garbage bytes, TooManyPixels (one) for a pixel bomb: neither is
    # stored nor served, and the next provider of the chain gets the job.
    header = inspect_within(data, max_pixels=get_settings().upload_max_pixels)
    extension = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}[header.content_type]
    key = output_key(task_id=task.public_id, name=f"{n}.{extension}")
    context.storage.put(key, data, header.content_type)
    return StoredImage(key=key, width=header.width, height=header.height)
