"""The queue adapter of this process, chosen by RETOUCH_QUEUE_BACKEND on first use."""

from __future__ import annotations

from functools import cache

from retouch.core.settings import get_settings
from retouch.queue.port import QueuePort


@cache
def get_queue() -> QueuePort:
    """The process's queue: Redis Streams (`redis`), SQS (`sqs`), SCF asynchronous invocation
    (`scf`) or the TDMQ publisher (`cmq`); created on first use, forgotten by `reset_clients`.
    Only the chosen adapter's module is imported, and no cloud SDK before its first call."""
    settings = get_settings()
    if settings.queue_backend == "sqs":
        from retouch.queue.sqs import SqsQueue

        return SqsQueue.from_settings(settings)
    if settings.queue_backend == "scf":
        from retouch.queue.scf_invoke import ScfInvokeQueue

        return ScfInvokeQueue.from_settings(settings)
    if settings.queue_backend == "cmq":
        from retouch.queue.cmq import CmqPublisher

        return CmqPublisher.from_settings(settings)
    from retouch.core.redis import get_redis
    from retouch.queue.redis_streams import QueueConfig, RedisStreamsQueue

    return RedisStreamsQueue(get_redis(), QueueConfig.from_settings(settings))
