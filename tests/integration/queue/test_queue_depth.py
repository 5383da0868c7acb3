"""`QueuePort.depth` on every adapter, read without receiving anything: Redis Streams counts
exactly and knows the oldest message's age; SQS (moto) answers from the attributes of the
queue and of its dead-letter queue; the scf backend counts its dead letters in Redis. (The cmq
publisher asks TDMQ: tests/integration/queue/test_queue_cmq.py.)"""

from __future__ import annotations

import time

import pytest

from retouch.core.redis import get_redis
from retouch.queue.scf_invoke import ScfInvokeQueue
from retouch.queue.scf_ledger import Envelope, ScfLedger
from tests.conftest import Stack
from tests.integration import queue_support
from tests.integration.admin_support import dead_letter
from tests.integration.sqs_support import MotoSqs

pytestmark = pytest.mark.integration


def test_redis_counts_waiting_delayed_and_dead_messages_and_the_oldest_age(stack: Stack) -> None:
    # GIVEN a queue with one dead letter, two messages sent, one of them delayed
    queue, name = queue_support.new_queue(), queue_support.unique_queue()
    dead_letter(name, {"task_id": "tsk_dead"})
    queue.publish(name, {"task_id": "tsk_1"})
    queue.publish(name, {"task_id": "tsk_2"}, delay_s=60)
    time.sleep(0.3)

    depth = queue.depth(name)

    # THEN both sent ones wait, one is dead, and the oldest has waited at least the pause
    assert (depth.waiting, depth.dead) == (2, 1)
    assert depth.oldest_age_s is not None and 0.3 <= depth.oldest_age_s < 30

    # WHEN the waiting one is received and acknowledged THEN only the delayed one waits
    [delivery] = queue.receive(name)
    assert queue.ack(delivery)
    after = queue.depth(name)
    assert (after.waiting, after.dead, after.oldest_age_s) == (1, 1, None)


def test_an_empty_redis_queue_has_no_depth(stack: Stack) -> None:
    depth = queue_support.new_queue().depth(queue_support.unique_queue())
    assert (depth.waiting, depth.dead, depth.oldest_age_s) == (0, 0, None)


def test_sqs_reads_the_dead_letter_queues_attributes_without_receiving(sqs: MotoSqs) -> None:
    # GIVEN two messages moved to the dead-letter queue (received once, given back) and one
    # message waiting
    queue, name = sqs.new_queue(max_receive_count=1)
    for task in ("tsk_1", "tsk_2"):
        queue.publish(name, {"task_id": task})
    for delivery in queue.receive(name, max_messages=10):
        queue.retry_later(delivery, 0)
    assert queue.receive(name, max_messages=10) == []  # SQS moved them on this receive
    queue.publish(name, {"task_id": "tsk_3"})

    depth = queue.depth(name)
    again = queue.depth(name)

    # THEN the counts are right, and reading them received nothing: the dead letters are
    # still there to be listed, each received only by its first delivery
    assert (depth.waiting, depth.dead, depth.oldest_age_s) == (1, 2, None)
    assert again == depth
    dead = queue.list_dead(name)
    assert sorted(message.message.body["task_id"] for message in dead) == ["tsk_1", "tsk_2"]
    assert [message.message.delivery_count for message in dead] == [1, 1]


def test_scf_counts_the_dead_letters_it_keeps_and_does_not_know_what_waits(
    stack: Stack,
) -> None:
    name = queue_support.unique_queue()
    ledger = ScfLedger(get_redis())
    queue = ScfInvokeQueue(region="ap-guangzhou", ledger=ledger)
    envelopes = [Envelope(name, f"m{i}", '{"task_id": "tsk_1"}', 1_000) for i in range(3)]
    for envelope in envelopes:
        ledger.bury(envelope, deliveries=3, now_ms=2_000)

    assert queue.depth(name).dead == 3
    assert queue.depth(name).waiting is None
    ledger.unbury(envelopes[0])
    assert queue.depth(name).dead == 2
