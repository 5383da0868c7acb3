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

from retouch.queue.cmq import CmqPublisher
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
