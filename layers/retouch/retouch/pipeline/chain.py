"""Retries and fallbacks of the `generate` step (DESIGN §6)."""

from __future__ import annotations

import random
from typing import Any

from retouch.core.logging import logger
from retouch.pipeline.context import DEFAULT_RETRIES, Attempt, StepContext
from retouch.pipeline.messages import StepMessage
from retouch.pipeline.metrics import count_fallback
from retouch.pipeline.repository import MySQLStepRepository
from retouch.providers.port import (
    ProviderBusy,
    ProviderError,
    ProviderPermanent,
    ProviderUnavailable,
)
from retouch.tasks.records import Task


class ChainMoves(StepContext):
    """How the `generate` step moves along its provider chain after a provider's failure:
    a permanent error fails the task; a retryable one retries the same provider after a
    backoff up to the step's `retries` (busy waits without an attempt; unavailable moves on
    at once); then the next provider, recorded as a fallback; none left, the task fails."""

    def _provider_failed(self, run: Attempt, key: str, position: int, error: ProviderError) -> None:
        uow, task, row = run.uow, run.task, run.row
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
        self._later(run, error, position, key=key)

    def _later(self, run: Attempt, error: ProviderError, position: int, *, key: str) -> None:
        """Retry the same provider after a backoff, or move to the next one (recorded)."""
        uow, task, index, row = run.uow, run.task, run.index, run.row
        configured = run.steps[index].retries
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


def _backoff(attempt: int) -> float:
    """Exponential backoff with full jitter: up to 2, 4, 8… seconds, at most 60."""
    return random.uniform(0, min(60.0, 2.0 ** max(attempt, 1)))  # noqa: S311 - jitter, not secrets
