"""The queue adapter of this process, chosen by RETOUCH_QUEUE_BACKEND on first use."""

from __future__ import annotations

from functools import cache

from retouch.core.redis import get_redis
from retouch.core.settings import get_settings
from retouch.queue.cmq import CmqPublisher
from retouch.queue.port import QueuePort
from retouch.queue.redis_streams import QueueConfig, RedisStreamsQueue
from retouch.queue.scf_invoke import ScfInvokeQueue
from retouch.queue.sqs import SqsQueue


@cache
def get_queue() -> QueuePort:
    """The process's queue: Redis Streams (`redis`), SQS (`sqs`), SCF asynchronous invocation
    (`scf`) or the TDMQ publisher (`cmq`); created on first use, forgotten by `reset_clients`.
    No cloud SDK is imported before."""
    settings = get_settings()
    if settings.queue_backend == "sqs":
        return SqsQueue.from_settings(settings)
    if settings.queue_backend == "scf":
        return ScfInvokeQueue.from_settings(settings)
    if settings.queue_backend == "cmq":
        return CmqPublisher.from_settings(settings)
    return RedisStreamsQueue(get_redis(), QueueConfig.from_settings(settings))
