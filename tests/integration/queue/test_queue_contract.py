"""What every queue adapter does alike (`QueuePort`), run against Redis Streams and SQS (moto)."""

from __future__ import annotations

import pytest

from retouch.queue import QueuePort
from tests.integration import queue_support, sqs_support


@pytest.fixture(params=["redis", "sqs"])
def adapter(request: pytest.FixtureRequest) -> tuple[QueuePort, str, float]:
    """An adapter, a queue name of its own and its visibility timeout in seconds."""
    if request.param == "redis":
        request.getfixturevalue("stack")
        queue = queue_support.new_queue()
        return queue, queue_support.unique_queue(), queue_support.VISIBILITY_S
    sqs: sqs_support.MotoSqs = request.getfixturevalue("sqs")
    sqs_queue, name = sqs.new_queue()
    return sqs_queue, name, sqs_support.VISIBILITY_S


def test_a_published_message_is_received_with_its_body_and_gone_once_acknowledged(
    adapter: tuple[QueuePort, str, float],
) -> None:
    # GIVEN a step message on a queue
    queue, name, visibility_s = adapter
    message_id = queue.publish(name, {"task_id": "tsk_1", "step": "prepare", "attempt": 1})

    # WHEN a consumer receives and acknowledges it
    [delivery] = queue.receive(name)
    acknowledged = queue.ack(delivery)

    # THEN it carried our id and body, was a first delivery, and never comes back
    assert delivery.message.id == message_id
    assert delivery.message.body == {"task_id": "tsk_1", "step": "prepare", "attempt": 1}
    assert delivery.message.delivery_count == 1
    assert delivery.message.sent_at_ms > 0
    assert acknowledged
    assert queue.receive(name, wait_s=visibility_s * 2) == []
