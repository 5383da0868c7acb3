"""The `dlq_depth` rule's input on SQS (moto), read through the queue port's `depth`: a dead
letter in a step queue's dead-letter queue is observed without being received, an empty
deploy observes nothing, and a queue the platform does not have is the input being
unavailable (the rule keeps its state) rather than "recovered"."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from retouch.alerts.inputs import InputUnavailable
from retouch.alerts.live import LiveAlertInputs
from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.queue import SqsQueue
from retouch.queue.steps import STEP_KINDS
from tests.conftest import Stack
from tests.integration.sqs_support import MotoSqs

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)


def deployed(sqs: MotoSqs, prefix: str) -> SqsQueue:
    """The step queues and their dead-letter queues, as template.yaml makes them."""
    for kind in STEP_KINDS:
        sqs.client.create_queue(QueueName=f"{prefix}steps-{kind}")
        sqs.client.create_queue(QueueName=f"{prefix}steps-{kind}-dlq")
    return SqsQueue(prefix=prefix, endpoint_url=sqs.endpoint_url)


def inputs(queue: SqsQueue) -> LiveAlertInputs:
    return LiveAlertInputs(
        database=get_database(), redis_client=get_redis(), queue=queue, metrics_path=None
    )


def test_a_dead_letter_on_sqs_is_observed_without_being_received(
    stack: Stack, sqs: MotoSqs
) -> None:
    # GIVEN two messages in the generate queue's dead-letter queue
    queue = deployed(sqs, "dlqin-a-")
    url = sqs.client.get_queue_url(QueueName="dlqin-a-steps-generate-dlq")["QueueUrl"]
    for n in range(2):
        sqs.client.send_message(QueueUrl=url, MessageBody=f'{{"task_id": "tsk_{n}"}}')

    observed = inputs(queue).observe("dlq_depth", window_s=300, now=NOW)

    # THEN only that queue is observed, with both, and nothing was received
    assert {queue: o.value for queue, o in observed.items()} == {"steps-generate": 2.0}
    attributes = sqs.client.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_no_dead_letters_observe_nothing(stack: Stack, sqs: MotoSqs) -> None:
    assert inputs(deployed(sqs, "dlqin-b-")).observe("dlq_depth", window_s=300, now=NOW) == {}


def test_a_missing_queue_is_an_unavailable_input(stack: Stack, sqs: MotoSqs) -> None:
    queue = SqsQueue(prefix="dlqin-none-", endpoint_url=sqs.endpoint_url)
    with pytest.raises(InputUnavailable, match="UnknownQueue"):
        inputs(queue).observe("dlq_depth", window_s=300, now=NOW)
