"""The `store` step of the engine."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from retouch.catalog.schemas import PipelineStep
from retouch.images.inspection import NotAnImage, inspect_image
from retouch.pipeline.context import StepContext, previous_step
from retouch.pipeline.messages import StepMessage
from retouch.pipeline.metrics import count_fallback
from retouch.pipeline.repository import MySQLStepRepository
from retouch.providers.port import (
    Provider,
    ProviderError,
    ProviderRetryable,
)
from retouch.storage import output_key
from retouch.tasks.records import StoredImage, Task


class StoreStep(StepContext):
    """`store`: the results are fetched (vendor URLs only from the provider's own hosts),
    checked to be real images (magic bytes and dimensions) and copied to
    `outputs/<task>/`; an empty or non-image result sends the task back to `generate` with
    the next provider (a failure of that vendor's)."""

    def _store(self, task: Task, index: int, steps: Sequence[PipelineStep]) -> None:
        now = self.clock()
        with self.database.unit_of_work() as uow:
            repo = MySQLStepRepository(uow)
            row = repo.begin(task_id=task.id, index=index, step="store", now=now, deadline_at=None)
            if row.status != "running":
                uow.commit()
                return
            generate = previous_step(repo, task, index, "generate", steps)
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
