"""The Redis Streams queue on a real Redis: delivery, visibility timeout, delivery counts,
dead letters and redrive, delays, partial batch failures, concurrent consumers."""

from __future__ import annotations

import threading
import time
from collections import Counter
from typing import Any

import pytest

from retouch.core.redis import get_redis
from retouch.queue import ALL, InvalidMessage, RedisStreamsQueue, consume, get_queue
from retouch.queue.redis_streams import dead_letter_key, delayed_key, stream_key
from tests.conftest import FakeLambdaContext, Stack
from tests.integration.queue_support import (
    VISIBILITY_S,
    failing_tasks_handler,
    new_queue,
    receive_within,
    unique_queue,
)

pytestmark = pytest.mark.integration


def test_acknowledging_deletes_the_stream_entry(stack: Stack) -> None:
    queue, name = new_queue(), unique_queue()
    queue.publish(name, {"task_id": "tsk_1"})

    queue.ack(queue.receive(name)[0])

    assert get_redis().xlen(stream_key(name)) == 0


def test_messages_published_before_any_consumer_existed_are_delivered(stack: Stack) -> None:
    name = unique_queue()
    ids = [new_queue().publish(name, {"task_id": f"tsk_{n}"}) for n in range(3)]

    deliveries = new_queue().receive(name, max_messages=10)

    assert [delivery.message.id for delivery in deliveries] == ids


def test_an_unacknowledged_message_is_delivered_again_after_the_visibility_timeout(
    stack: Stack,
) -> None:
    # GIVEN a message received and not acknowledged
    queue, name = new_queue(), unique_queue()
    queue.publish(name, {"task_id": "tsk_2"})
    [first] = queue.receive(name)

    # WHEN other consumers look at once, and again later
    hidden = new_queue().receive(name)
    [again], waited = receive_within(new_queue(), name, VISIBILITY_S * 6)

    # THEN it stayed invisible during its visibility timeout, then came back, counted
    assert hidden == []
    assert waited >= VISIBILITY_S * 0.6
    assert again.message.id == first.message.id
    assert again.message.delivery_count == 2


def test_the_delivery_count_grows_with_each_redelivery(stack: Stack) -> None:
    queue, name = new_queue(max_deliveries=10), unique_queue()
    queue.publish(name, {"task_id": "tsk_3"})

    counts = []
    for _ in range(4):
        [delivery], _ = receive_within(queue, name, VISIBILITY_S * 6)
        counts.append(delivery.message.delivery_count)

    assert counts == [1, 2, 3, 4]


def test_a_message_delivered_the_maximum_times_moves_to_the_dead_letter_stream(
    stack: Stack,
) -> None:
    # GIVEN a queue that allows 2 deliveries and a message its consumers never acknowledge
    queue, name = new_queue(max_deliveries=2), unique_queue()
    message_id = queue.publish(name, {"task_id": "tsk_4", "step": "generate"})
    [first], _ = receive_within(queue, name, 1)
    [second], _ = receive_within(queue, name, VISIBILITY_S * 6)

    # WHEN its second visibility timeout ends
    third, _ = receive_within(queue, name, VISIBILITY_S * 3)

    # THEN it is not delivered a third time but listed as dead, with its deliveries
    assert (first.message.delivery_count, second.message.delivery_count) == (1, 2)
    assert third == []
    [dead] = queue.list_dead(name)
    assert (dead.message.id, dead.message.body, dead.message.delivery_count) == (
        message_id,
        {"task_id": "tsk_4", "step": "generate"},
        2,
    )
    assert get_redis().xlen(stream_key(name)) == 0
    assert get_redis().xlen(dead_letter_key(name)) == 1


def test_a_redriven_dead_message_is_delivered_again_with_a_fresh_count(stack: Stack) -> None:
    # GIVEN two dead messages
    queue, name = new_queue(max_deliveries=1), unique_queue()
    kept = queue.publish(name, {"task_id": "tsk_kept"})
    redriven = queue.publish(name, {"task_id": "tsk_redriven"})
    receive_within(queue, name, 1)
    receive_within(queue, name, VISIBILITY_S * 3)  # reclaims both and dead-letters them
    assert {dead.message.id for dead in queue.list_dead(name)} == {kept, redriven}

    # WHEN an operator redrives one of them by id
    moved = queue.redrive(name, [redriven])

    # THEN that one alone is delivered again, as a first delivery, and left the dead letters
    [delivery] = queue.receive(name)
    assert moved == 1
    assert (delivery.message.id, delivery.message.delivery_count) == (redriven, 1)
    assert [dead.message.id for dead in queue.list_dead(name)] == [kept]

    # AND redriving ALL moves the rest
    assert queue.redrive(name, ALL) == 1
    assert queue.list_dead(name) == []
    assert [d.message.id for d in queue.receive(name)] == [kept]


def test_a_delayed_message_is_not_delivered_before_it_is_due(stack: Stack) -> None:
    # GIVEN a message delayed by 1 s
    queue, name = new_queue(), unique_queue()
    message_id = queue.publish(name, {"task_id": "tsk_5"}, delay_s=1.0)

    # WHEN consumers look at once and then wait for it
    early = queue.receive(name, wait_s=0.3)
    [late], _ = receive_within(queue, name, 3)

    # THEN it was held back in the delayed set, then delivered once due
    assert early == []
    assert late.message.id == message_id
    assert late.message.delivery_count == 1
    assert get_redis().zcard(delayed_key(name)) == 0


def test_retry_later_delivers_the_message_again_after_the_given_delay(stack: Stack) -> None:
    queue, name = new_queue(), unique_queue()
    queue.publish(name, {"task_id": "tsk_6"})
    [delivery] = queue.receive(name)

    assert queue.retry_later(delivery, delay_s=0)
    [again] = queue.receive(name)

    assert again.message.id == delivery.message.id
    assert again.message.delivery_count == 2


def test_retry_later_with_a_delay_keeps_the_message_hidden_until_the_delay_ends(
    stack: Stack,
) -> None:
    queue, name = new_queue(), unique_queue()
    queue.publish(name, {"task_id": "tsk_9"})
    [delivery] = queue.receive(name)

    queue.retry_later(delivery, delay_s=0.3)
    early = queue.receive(name)
    [again], waited = receive_within(queue, name, VISIBILITY_S * 4)

    assert early == []
    assert waited >= 0.15
    assert again.message.id == delivery.message.id


def test_delays_outside_their_range_are_refused(stack: Stack) -> None:
    queue, name = new_queue(), unique_queue()
    queue.publish(name, {"task_id": "tsk_10"})
    [delivery] = queue.receive(name)

    with pytest.raises(InvalidMessage):
        queue.publish(name, {"task_id": "tsk_11"}, delay_s=901)
    with pytest.raises(InvalidMessage):
        queue.retry_later(delivery, delay_s=VISIBILITY_S * 2)


def test_redriving_an_id_that_is_not_dead_moves_nothing(stack: Stack) -> None:
    queue, name = new_queue(), unique_queue()
    live = queue.publish(name, {"task_id": "tsk_12"})

    assert queue.redrive(name, [live, "no-such-id"]) == 0
    assert [d.message.id for d in queue.receive(name)] == [live]


def test_a_failed_record_is_delivered_again_and_the_successful_ones_are_not(
    stack: Stack,
) -> None:
    # GIVEN three step messages and a Lambda-style handler that fails task b
    queue, name = new_queue(), unique_queue()
    ids = {task: queue.publish(name, {"task_id": task}) for task in ("a", "b", "c")}
    seen: list[dict[str, Any]] = []
    handler = failing_tasks_handler({"b"}, seen)

    # WHEN the local consumer runs it on one batch, then again after the visibility timeout
    outcome = consume(queue, name, handler, context=FakeLambdaContext(), max_messages=10)
    handler_ok = failing_tasks_handler(set(), seen)
    retried = consume(queue, name, handler_ok, max_messages=10, wait_s=VISIBILITY_S * 4)

    # THEN a and c were acknowledged once; b alone came back, and succeeded the second time
    assert sorted(outcome.acknowledged) == sorted([ids["a"], ids["c"]])
    assert outcome.failed == [ids["b"]]
    assert retried.acknowledged == [ids["b"]]
    assert [body["task_id"] for body in seen] == ["a", "b", "c", "b"]
    assert queue.receive(name, wait_s=VISIBILITY_S * 2) == []


def test_a_handler_that_raises_leaves_the_whole_batch_for_redelivery(stack: Stack) -> None:
    # GIVEN two messages and a handler whose every record fails (Powertools raises)
    queue, name = new_queue(), unique_queue()
    for task in ("a", "b"):
        queue.publish(name, {"task_id": task})

    outcome = consume(queue, name, failing_tasks_handler({"a", "b"}, []), max_messages=10)
    again, _ = receive_within(queue, name, VISIBILITY_S * 6)

    assert outcome.acknowledged == []
    assert len(outcome.failed) == 2
    assert sorted(d.message.body["task_id"] for d in again) == ["a", "b"]
    assert {d.message.delivery_count for d in again} == {2}


def test_concurrent_consumers_never_hold_the_same_message_at_once(stack: Stack) -> None:
    # GIVEN 200 messages and two consumers (one per thread, as two instances would be)
    name = unique_queue()
    publisher = new_queue()
    published = {publisher.publish(name, {"task_id": f"tsk_{n}"}) for n in range(200)}
    held: set[str] = set()
    overlaps: list[str] = []
    received: Counter[str] = Counter()
    guard = threading.Lock()

    def work(consumer_name: str) -> None:
        queue = new_queue(consumer=consumer_name)
        while True:
            deliveries = queue.receive(name, max_messages=5, wait_s=0.2)
            if not deliveries:
                return
            for delivery in deliveries:
                with guard:
                    if delivery.message.id in held:
                        overlaps.append(delivery.message.id)
                    held.add(delivery.message.id)
                    received[delivery.message.id] += 1
                time.sleep(0.001)  # the handler's work, while the message is held
                with guard:
                    held.discard(delivery.message.id)
                queue.ack(delivery)

    threads = [threading.Thread(target=work, args=(f"consumer-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # THEN every message was delivered exactly once, never to both at the same time
    assert overlaps == []
    assert set(received) == published
    assert set(received.values()) == {1}


def test_a_message_published_while_a_receive_waits_is_delivered_to_it(stack: Stack) -> None:
    # GIVEN a consumer waiting on an empty queue (its group already exists)
    queue, name = new_queue(), unique_queue()
    assert queue.receive(name) == []
    publisher = threading.Timer(0.2, lambda: new_queue().publish(name, {"task_id": "tsk_9"}))

    # WHEN a message is published during the wait
    publisher.start()
    deliveries, _ = receive_within(queue, name, 5)
    publisher.join()

    # THEN the waiting receive returns it (the blocking read's reply, not the script's)
    assert [delivery.message.body for delivery in deliveries] == [{"task_id": "tsk_9"}]
    assert deliveries[0].message.delivery_count == 1


def test_a_consumer_recreates_its_group_when_redis_lost_it(stack: Stack) -> None:
    # GIVEN a consumer that has used a queue, and a Redis that lost the queue's stream and
    # group (a restart without persistence does that)
    queue, name = new_queue(), unique_queue()
    queue.publish(name, {"task_id": "tsk_7"})
    queue.ack(queue.receive(name)[0])
    get_redis().delete(stream_key(name))

    # WHEN a message is published and received again
    message_id = queue.publish(name, {"task_id": "tsk_8"})
    [delivery] = queue.receive(name, wait_s=1)

    # THEN the group came back by itself and the message arrived
    assert delivery.message.id == message_id


def test_the_process_queue_comes_from_the_settings(stack: Stack) -> None:
    queue = get_queue()

    assert queue is get_queue()
    assert isinstance(queue, RedisStreamsQueue)
    assert queue.config.visibility_timeout_s == 30.0
    assert queue.config.max_deliveries == 5
