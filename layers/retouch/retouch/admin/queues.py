"""`GET /v1/admin/queues`: each step queue's depth, read through the queue port's `depth`
(nothing is received, so it is cheap on every platform and moves no message). Where the
platform cannot tell a figure it is null: SQS knows no message's age, SCF's asynchronous
invocation queue shows nothing of what waits in it. A backend that fails to answer (its API
refuses or cannot be reached) is a 503, never a 500."""

from __future__ import annotations

from pydantic import Field

from retouch.admin.operations import DeadLettersUnavailable
from retouch.admin.schemas import STEP_QUEUES
from retouch.core.errors import ServiceUnavailable
from retouch.core.logging import logger
from retouch.core.schemas import Schema
from retouch.queue.messages import NotSupported
from retouch.queue.port import QueuePort


class QueueDepthRead(Schema):
    queue: str
    waiting: int | None = Field(description="sent and not yet done: visible, delayed, in hand")
    dead: int = Field(description="dead letters")
    oldest_age_s: float | None = Field(description="how long the oldest waiting one has waited")


class QueueDepths(Schema):
    queues: list[QueueDepthRead]


def queue_depths(*, queue: QueuePort) -> QueueDepths:
    """Every step queue's depth; DeadLettersUnavailable where the backend cannot tell,
    ServiceUnavailable where it fails."""
    answer = []
    for name in STEP_QUEUES:
        try:
            depth = queue.depth(name)
        except NotSupported as exc:
            raise DeadLettersUnavailable(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - redis-py, botocore, the Tencent SDK: any adapter
            failure = {"queue": name, "error": type(exc).__name__}
            logger.warning("queue depth unavailable", extra=failure)
            raise ServiceUnavailable("queue backend unreachable") from None
        answer.append(
            QueueDepthRead(
                queue=name, waiting=depth.waiting, dead=depth.dead, oldest_age_s=depth.oldest_age_s
            )
        )
    return QueueDepths(queues=answer)
