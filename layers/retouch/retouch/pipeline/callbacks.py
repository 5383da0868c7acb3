"""Provider callbacks (`POST /v1/callbacks/{provider}`): a callback is only a prompt.

The provider's adapter verifies it (`parse_callback`: a signature over timestamp and body
within a tolerance window for vendors that sign; for vendors that do not, it only names the
job). A replayed event id changes nothing (`provider_events`). A verified, new event for a job
a `generate` step is waiting on sends that step a message at once, and the step then asks the
vendor itself (`poll`): nothing in a callback body is ever taken as the job's result.
"""

from __future__ import annotations

from collections.abc import Mapping

from retouch.core.errors import NotFound, Unauthenticated
from retouch.core.logging import logger
from retouch.core.time import Clock, utc_now
from retouch.pipeline.engine import Engine
from retouch.pipeline.messages import StepMessage, step_queue
from retouch.pipeline.repository import StepRepository
from retouch.providers.port import InvalidCallback
from retouch.queue.outbox import enqueue_in, publish_committed
from retouch.tasks.repository import TaskRepository


def receive_callback(
    engine: Engine,
    *,
    provider_key: str,
    headers: Mapping[str, str],
    body: bytes,
    clock: Clock = utc_now,
) -> str:
    """Apply one callback; returns what happened (`prompted`, `replayed`, `ignored`).
    NotFound for a provider we do not use; Unauthenticated for a callback that does not
    verify (forged, stale, malformed)."""
    context = engine.context
    provider = context.providers.get(provider_key)
    if provider is None:
        raise NotFound("No such provider")
    try:
        event = provider.parse_callback(headers, body)
    except InvalidCallback as exc:
        logger.warning(
            "callback refused", extra={"provider": provider_key, "reason": exc.detail[:200]}
        )
        raise Unauthenticated("The callback could not be verified") from None
    with context.database.unit_of_work() as uow:
        steps = uow.repository(StepRepository)
        if not steps.record_event(provider_key=provider_key, event_id=event.event_id, now=clock()):
            uow.commit()
            return "replayed"
        row = steps.by_handle(provider_key=provider_key, handle=event.handle)
        task = None if row is None else uow.repository(TaskRepository).get(row.task_id)
        if row is None or task is None or row.status != "waiting":
            uow.commit()
            return "ignored"
        message = StepMessage(task.public_id, "generate", row.step_index)
        sent = enqueue_in(uow, step_queue("generate"), message.body(), clock=clock)
        uow.commit()
    publish_committed(database=context.database, queue=context.queue, messages=[sent], clock=clock)
    return "prompted"
