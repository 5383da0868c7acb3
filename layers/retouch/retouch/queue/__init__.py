"""Queues: a port (`QueuePort`) and its adapters (DESIGN.md §5; docs/architecture.md "Queue").

    from retouch.queue import get_queue
    message_id = get_queue().publish("steps", {"task_id": "tsk_…", "step": "prepare"})

`get_queue()` returns the adapter RETOUCH_QUEUE_BACKEND names: Redis Streams for the local
runtime (`RedisStreamsQueue`), SQS on AWS (`SqsQueue`), and on Tencent SCF asynchronous
invocations of the step functions (`ScfInvokeQueue`, docs/queue-tencent.md; the older TDMQ CMQ
publisher `CmqPublisher` has no SCF trigger today). `sqs_events` turns Redis deliveries into
SQS-shaped Lambda events and runs Powertools batch processing; `scf_events` reads the Tencent
SCF queue events, and `scf_consumer` retries and dead-letters invoked messages.
"""

from typing import TYPE_CHECKING

from retouch.core.lazy import lazy_exports
from retouch.queue.factory import get_queue
from retouch.queue.messages import (
    DeadMessage,
    Delivery,
    InvalidMessage,
    InvalidQueueName,
    NotSupported,
    QueueError,
    QueueMessage,
    UnknownEventShape,
    UnknownQueue,
)
from retouch.queue.port import ALL, QueuePort

if TYPE_CHECKING:  # the adapters and event readers, imported on first access (`__getattr__`)
    from retouch.queue.cmq import CmqPublisher
    from retouch.queue.redis_streams import QueueConfig, RedisStreamsQueue
    from retouch.queue.scf_consumer import ConsumerRules, run_invoked
    from retouch.queue.scf_events import (
        BatchFailed,
        InboundMessage,
        run_scf_batch,
        scf_queue_messages,
        sqs_event_from_scf,
    )
    from retouch.queue.scf_invoke import ScfInvokeQueue
    from retouch.queue.scf_ledger import Envelope, ScfLedger
    from retouch.queue.sqs import SqsQueue
    from retouch.queue.sqs_events import BatchOutcome, consume, process_batch, sqs_event

# A process uses one adapter: importing the others would only slow its cold start.
__getattr__ = lazy_exports(
    globals(),
    {
        "CmqPublisher": "retouch.queue.cmq",
        **dict.fromkeys(("QueueConfig", "RedisStreamsQueue"), "retouch.queue.redis_streams"),
        **dict.fromkeys(("ConsumerRules", "run_invoked"), "retouch.queue.scf_consumer"),
        **dict.fromkeys(
            (
                "BatchFailed",
                "InboundMessage",
                "run_scf_batch",
                "scf_queue_messages",
                "sqs_event_from_scf",
            ),
            "retouch.queue.scf_events",
        ),
        "ScfInvokeQueue": "retouch.queue.scf_invoke",
        **dict.fromkeys(("Envelope", "ScfLedger"), "retouch.queue.scf_ledger"),
        "SqsQueue": "retouch.queue.sqs",
        **dict.fromkeys(
            ("BatchOutcome", "consume", "process_batch", "sqs_event"), "retouch.queue.sqs_events"
        ),
    },
)

__all__ = [
    "ALL",
    "BatchFailed",
    "BatchOutcome",
    "CmqPublisher",
    "ConsumerRules",
    "DeadMessage",
    "Delivery",
    "Envelope",
    "InboundMessage",
    "InvalidMessage",
    "InvalidQueueName",
    "NotSupported",
    "QueueConfig",
    "QueueError",
    "QueueMessage",
    "QueuePort",
    "RedisStreamsQueue",
    "ScfInvokeQueue",
    "ScfLedger",
    "SqsQueue",
    "UnknownEventShape",
    "UnknownQueue",
    "consume",
    "get_queue",
    "process_batch",
    "run_invoked",
    "run_scf_batch",
    "scf_queue_messages",
    "sqs_event",
    "sqs_event_from_scf",
]
