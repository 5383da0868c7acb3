"""How much waits in a queue: the figure the monitor's dead-letter rule and the console's
queues view read (`QueuePort.depth`). Each adapter answers what its platform can tell
cheaply, without receiving a message: Redis counts exactly and knows the oldest message's
age; SQS answers its approximate attributes (`ApproximateNumberOf…`, of the queue and of
its dead-letter queue) and no age; the scf backend knows its dead letters (Redis) but not
what SCF holds in its asynchronous invocation queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """`waiting`: messages sent and not yet done (visible, delayed or being handled);
    `dead`: dead letters; `oldest_age_s`: how long the oldest waiting message has waited.
    None where the platform cannot tell."""

    waiting: int | None
    dead: int
    oldest_age_s: float | None = None


#: The SQS attributes that make up `waiting`: visible, being handled, delayed.
SQS_WAITING: list[
    Literal[
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
    ]
] = [
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
]


def sqs_depth(client: SQSClient, url: str, dead_letters_url: str) -> QueueDepth:
    """Two GetQueueAttributes calls: the queue's three counts, and its dead-letter queue's
    (a dead letter hidden by a listing in progress is still one: NotVisible counts)."""
    source = client.get_queue_attributes(QueueUrl=url, AttributeNames=SQS_WAITING)
    dead = client.get_queue_attributes(QueueUrl=dead_letters_url, AttributeNames=SQS_WAITING)
    return QueueDepth(waiting=_total(source["Attributes"]), dead=_total(dead["Attributes"]))


def _total(attributes: Mapping[Any, str]) -> int:
    return sum(int(attributes.get(name, "0")) for name in SQS_WAITING)
