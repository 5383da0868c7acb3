"""The local queue consumers: SQS-triggered functions fed from Redis Streams as Lambda's SQS
poller would feed them (SQS-shaped events, partial batch failures, redrive to dead letters)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis
from starlette.testclient import TestClient

from retouch.core.redis import get_redis
from retouch.core.settings import get_settings
from retouch.queue import QueueConfig, RedisStreamsQueue, get_queue
from retouch.queue.redis_streams import stream_key
from scripts.local.consumers import ConsumerThreads, QueueConsumer, queue_consumers, run_consumer
from scripts.local.gateway import create_gateway
from scripts.local.sam import Template, load_handler
from scripts.local.servers import RedisServer, free_port
from tests.conftest import Stack
from tests.integration.local_runtime import (
    QUEUE_TEMPLATE_MAX_RECEIVES,
    received_events,
    write_queue_echo,
)
from tests.integration.queue_support import unique_queue

pytestmark = pytest.mark.integration

FUNCTION = "QueueEchoFunction"


def wait_until(condition: Callable[[], object], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds} s")
        time.sleep(0.05)


@pytest.fixture
def queue_echo(stack: Stack, tmp_path: Path) -> Template:
    """A throwaway template: the recording function behind a queue of a name of its own."""
    return write_queue_echo(tmp_path, unique_queue())


def consumer_of(template: Template) -> QueueConsumer:
    handlers = {FUNCTION: load_handler(template.function(FUNCTION))}
    [consumer] = queue_consumers(template, handlers, settings=get_settings())
    return consumer


@pytest.fixture
def log_lines() -> list[str]:
    return []


@contextmanager
def consuming(template: Template, log_lines: list[str]) -> Iterator[QueueConsumer]:
    """The template's consumer running in its thread, as the stack runs it."""
    consumer = consumer_of(template)
    threads = ConsumerThreads([consumer], wait_s=0.2, log=log_lines.append)
    threads.start()
    try:
        yield consumer
    finally:
        threads.stop()


def test_the_consumer_reads_the_queue_named_in_the_template_with_its_redrive_rules(
    queue_echo: Template,
) -> None:
    consumer = consumer_of(queue_echo)

    assert consumer.queue.name == queue_echo.queues[0].name
    assert consumer.trigger.batch_size == 5
    assert consumer.config.visibility_timeout_s == 1.0  # the template's VisibilityTimeout
    assert consumer.config.max_deliveries == QUEUE_TEMPLATE_MAX_RECEIVES
    assert f"dead letter after 3 deliveries (template) -> q:{{{consumer.queue.name}}}:dlq" in (
        consumer.describe()
    )


def test_published_messages_reach_the_function_as_an_sqs_event_and_are_acknowledged(
    queue_echo: Template, log_lines: list[str]
) -> None:
    # GIVEN two messages published to the queue's local name, as code publishes them
    name = queue_echo.queues[0].name
    ids = [get_queue().publish(name, {"task_id": f"tsk_{n}", "step": "prepare"}) for n in (1, 2)]

    # WHEN the consumer runs
    with consuming(queue_echo, log_lines):
        wait_until(lambda: log_lines)

    # THEN the function got one SQS-shaped batch of both, under its own name
    [received] = received_events(queue_echo)
    records = received["event"]["Records"]
    assert received["function"] == FUNCTION
    assert [record["messageId"] for record in records] == ids
    assert [json.loads(record["body"])["task_id"] for record in records] == ["tsk_1", "tsk_2"]
    assert {record["eventSource"] for record in records} == {"aws:sqs"}
    assert {record["eventSourceARN"].rpartition(":")[2] for record in records} == {name}
    assert [record["attributes"]["ApproximateReceiveCount"] for record in records] == ["1", "1"]
    # and both were acknowledged: one log line says so, and the stream is empty
    assert log_lines == [f"{FUNCTION} <- {name}: acked 2, failed 0"]
    assert get_redis().xlen(stream_key(name)) == 0


def test_a_record_reported_failed_comes_back_with_a_higher_receive_count_and_the_others_do_not(
    queue_echo: Template, log_lines: list[str]
) -> None:
    # GIVEN a message that succeeds and one that the function reports failed once
    name = queue_echo.queues[0].name
    good = get_queue().publish(name, {"task_id": "tsk_good"})
    flaky = get_queue().publish(name, {"task_id": "tsk_flaky", "fail_deliveries": 1})

    # WHEN the consumer has run two batches and a visibility timeout more
    with consuming(queue_echo, log_lines) as consumer:
        wait_until(lambda: len(log_lines) >= 2)
        time.sleep(consumer.config.visibility_timeout_s * 1.5)

    # THEN the failed record came back once more, with receive count 2; the other never did
    batches = [
        [
            (record["messageId"], record["attributes"]["ApproximateReceiveCount"])
            for record in received["event"]["Records"]
        ]
        for received in received_events(queue_echo)
    ]
    assert batches == [[(good, "1"), (flaky, "1")], [(flaky, "2")]]
    assert log_lines == [
        f"{FUNCTION} <- {name}: acked 1, failed 1",
        f"{FUNCTION} <- {name}: acked 1, failed 0",
    ]
    assert get_queue().list_dead(name) == []


def test_a_record_failing_every_delivery_moves_to_the_dead_letter_stream_after_max_receives(
    queue_echo: Template, log_lines: list[str]
) -> None:
    # GIVEN a message the function always reports failed
    name = queue_echo.queues[0].name
    doomed = get_queue().publish(name, {"task_id": "tsk_doomed", "fail_deliveries": 99})

    # WHEN the consumer runs until it is dead-lettered, and a visibility timeout more
    with consuming(queue_echo, log_lines) as consumer:
        wait_until(lambda: get_queue().list_dead(name), seconds=15)
        time.sleep(consumer.config.visibility_timeout_s * 1.5)

    # THEN the function saw it maxReceiveCount times, with counts 1, 2, 3, and no more
    counts = [
        record["attributes"]["ApproximateReceiveCount"]
        for received in received_events(queue_echo)
        for record in received["event"]["Records"]
    ]
    assert counts == ["1", "2", "3"]
    [dead] = get_queue().list_dead(name)
    assert dead.message.id == doomed
    assert dead.message.delivery_count == QUEUE_TEMPLATE_MAX_RECEIVES
    assert log_lines == [f"{FUNCTION} <- {name}: acked 0, failed 1"] * 3


def test_the_gateway_runs_the_consumers_for_its_lifespan_and_stops_them_with_it(
    queue_echo: Template,
) -> None:
    name = queue_echo.queues[0].name
    get_queue().publish(name, {"task_id": "tsk_gateway"})

    app = create_gateway(queue_echo, consumers=True)
    with TestClient(app):
        gateway = app.state.gateway
        wait_until(lambda: received_events(queue_echo))
        running = [thread.name for thread in threading.enumerate()]

    assert [consumer.label for consumer in gateway.consumers] == [f"{FUNCTION} <- {name}"]
    assert f"consumer-{FUNCTION}-Messages" in running
    assert f"consumer-{FUNCTION}-Messages" not in [t.name for t in threading.enumerate()]


def test_a_consumer_outlives_a_redis_outage_and_consumes_once_redis_is_back(
    queue_echo: Template, tmp_path: Path
) -> None:
    # GIVEN a consumer whose Redis is not running (yet)
    port = free_port()
    client = redis.Redis(
        host="127.0.0.1",
        port=port,
        socket_timeout=1,
        socket_connect_timeout=1,
        decode_responses=True,
    )
    queue = RedisStreamsQueue(client, QueueConfig(poll_interval_s=0.05))
    lines: list[str] = []
    stop = threading.Event()
    thread = threading.Thread(
        target=run_consumer,
        args=(consumer_of(queue_echo), queue, stop),
        kwargs={"wait_s": 0.2, "log": lines.append},
    )
    thread.start()
    server = RedisServer(tmp_path / "redis", port=port)
    try:
        # WHEN Redis stays away for two attempts, then starts and a message is published
        wait_until(lambda: len(lines) >= 2)
        server.start()
        name = queue_echo.queues[0].name
        message_id = queue.publish(name, {"task_id": "tsk_after_outage"})
        wait_until(lambda: received_events(queue_echo), seconds=15)
    finally:
        stop.set()
        thread.join(10)
        server.stop()
        client.close()

    # THEN the consumer logged the outage, backed off, and went on to deliver the message
    assert "Redis unavailable" in lines[0] and lines[0].endswith("retrying in 0.5 s")
    assert "Redis unavailable" in lines[1] and lines[1].endswith("retrying in 1 s")
    assert lines[-1] == f"{FUNCTION} <- {name}: acked 1, failed 0"
    [received] = received_events(queue_echo)
    assert received["event"]["Records"][0]["messageId"] == message_id
    assert not thread.is_alive()
