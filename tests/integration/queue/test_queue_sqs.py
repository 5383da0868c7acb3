"""The SQS adapter against moto's SQS server: delivery, delays, visibility, delivery counts,
dead letters and redrive, refusals before any I/O, and a Lambda step handler over it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from mypy_boto3_sqs.type_defs import MessageTypeDef

from retouch.queue import (
    ALL,
    InvalidMessage,
    InvalidQueueName,
    SqsQueue,
    UnknownQueue,
    consume,
    get_queue,
    process_batch,
)
from scripts.local.servers import free_port
from tests.integration.queue_support import failing_tasks_handler, queue_settings
from tests.integration.sqs_support import VISIBILITY_S, MotoSqs


def dead_after_one_receive(
    sqs: MotoSqs, bodies: list[dict[str, Any]]
) -> tuple[SqsQueue, list[str]]:
    """A queue whose messages of `bodies` all sit in its dead-letter queue (maxReceiveCount 1:
    received once, given back, moved by SQS on the next receive)."""
    queue, name = sqs.new_queue(max_receive_count=1)
    ids = [queue.publish(name, body) for body in bodies]
    for delivery in queue.receive(name, max_messages=10):
        queue.retry_later(delivery, 0)
    assert queue.receive(name, max_messages=10) == []
    return queue, ids


def test_a_delayed_message_is_not_received_before_its_delay(sqs: MotoSqs) -> None:
    queue, name = sqs.new_queue()
    message_id = queue.publish(name, {"task_id": "tsk_2"}, delay_s=2)

    at_once = queue.receive(name)
    started = time.monotonic()
    [later] = queue.receive(name, wait_s=6)

    assert at_once == []
    assert time.monotonic() - started >= 1
    assert later.message.id == message_id


def test_an_unacknowledged_message_comes_back_with_the_same_id_and_a_higher_count(
    sqs: MotoSqs,
) -> None:
    # GIVEN a message received and not acknowledged
    queue, name = sqs.new_queue()
    message_id = queue.publish(name, {"task_id": "tsk_3"})
    [first] = queue.receive(name)

    # WHEN another consumer looks at once, and again after the visibility timeout
    hidden = queue.receive(name)
    [again] = queue.receive(name, wait_s=VISIBILITY_S * 4)

    # THEN it was invisible meanwhile, then came back: same id, one more delivery
    assert hidden == []
    assert first.message.delivery_count == 1
    assert again.message.id == message_id
    assert again.message.delivery_count == 2
    assert again.receipt != first.receipt


def test_retry_later_gives_the_message_back_and_the_count_grows(sqs: MotoSqs) -> None:
    queue, name = sqs.new_queue(max_receive_count=10)
    message_id = queue.publish(name, {"task_id": "tsk_4"})

    counts = []
    for _ in range(3):
        [delivery] = queue.receive(name)
        counts.append(delivery.message.delivery_count)
        assert queue.retry_later(delivery, 0)

    assert counts == [1, 2, 3]
    assert queue.receive(name)[0].message.id == message_id


def test_acknowledging_or_retrying_a_finished_delivery_reports_it_gone(sqs: MotoSqs) -> None:
    queue, name = sqs.new_queue()
    queue.publish(name, {"task_id": "tsk_5"})
    [delivery] = queue.receive(name)
    queue.ack(delivery)

    assert queue.retry_later(delivery, 0) is False


def test_dead_messages_are_listed_without_being_consumed(sqs: MotoSqs) -> None:
    # GIVEN two messages that died (maxReceiveCount 1)
    queue, ids = dead_after_one_receive(sqs, [{"task_id": "tsk_6"}, {"task_id": "tsk_7"}])

    # WHEN an operator lists the dead letters twice
    first = queue.list_dead("steps")
    second = queue.list_dead("steps")

    # THEN both listings show both, with our ids and bodies (the first did not consume them)
    assert sorted(dead.message.id for dead in first) == sorted(ids)
    assert sorted(dead.message.id for dead in second) == sorted(ids)
    assert {dead.message.body["task_id"] for dead in first} == {"tsk_6", "tsk_7"}
    assert all(dead.message.delivery_count >= 1 for dead in first)
    assert len(queue.list_dead("steps", limit=1)) == 1


def test_redriving_named_messages_moves_only_those_back_with_a_fresh_count(sqs: MotoSqs) -> None:
    # GIVEN two dead messages
    queue, [chosen, other] = dead_after_one_receive(
        sqs, [{"task_id": "tsk_8"}, {"task_id": "tsk_9"}]
    )

    # WHEN one of them is redriven
    moved = queue.redrive("steps", [chosen, "no-such-id"])

    # THEN it is back on the queue with its id, counted afresh; the other is still dead
    [delivery] = queue.receive("steps", wait_s=1)
    assert moved == 1
    assert delivery.message.id == chosen
    assert delivery.message.body == {"task_id": "tsk_8"}
    assert delivery.message.delivery_count == 1
    assert [dead.message.id for dead in queue.list_dead("steps")] == [other]


def test_redriving_all_moves_every_dead_message_back(sqs: MotoSqs) -> None:
    queue, ids = dead_after_one_receive(sqs, [{"task_id": f"tsk_1{n}"} for n in range(3)])

    moved = queue.redrive("steps", ALL)

    back = queue.receive("steps", max_messages=10, wait_s=1)
    assert moved == 3
    assert sorted(delivery.message.id for delivery in back) == sorted(ids)
    assert queue.list_dead("steps") == []


@pytest.mark.parametrize(
    ("body", "delay_s"),
    [
        ({"value": float("nan")}, 0),
        ({"blob": "x" * 300_000}, 0),
        (["not", "an", "object"], 0),
        ({"task_id": "tsk_1"}, 901),
        ({"task_id": "tsk_1"}, -1),
    ],
)
def test_bad_bodies_and_delays_are_refused_before_any_io(body: Any, delay_s: float) -> None:
    # An endpoint nothing listens on: any request would fail with a connection error instead.
    queue = SqsQueue(endpoint_url=f"http://127.0.0.1:{free_port()}")

    with pytest.raises(InvalidMessage):
        queue.publish("steps", body, delay_s=delay_s)


def test_an_unknown_queue_is_a_clear_error_naming_the_sqs_queue(sqs: MotoSqs) -> None:
    queue, _ = sqs.new_queue()

    with pytest.raises(UnknownQueue, match=rf"'{queue.prefix}missing'"):
        queue.publish("missing", {"task_id": "tsk_1"})
    with pytest.raises(UnknownQueue):
        queue.receive("missing")
    with pytest.raises(InvalidQueueName):
        queue.receive("not a name")


def test_a_lambda_step_handler_runs_on_sqs_deliveries_with_partial_failures(sqs: MotoSqs) -> None:
    # GIVEN three step messages, one of which the handler fails
    queue, name = sqs.new_queue()
    ids = [queue.publish(name, {"task_id": f"tsk_{n}", "step": "prepare"}) for n in range(3)]
    seen: list[dict[str, Any]] = []
    handler = failing_tasks_handler({"tsk_1"}, seen)

    # WHEN one batch is consumed through Powertools batch processing
    outcome = consume(queue, name, handler, max_messages=10)

    # THEN the two successes are acknowledged; the failure comes back, counted
    assert sorted(outcome.acknowledged) == sorted([ids[0], ids[2]])
    assert outcome.failed == [ids[1]]
    [again] = queue.receive(name, wait_s=VISIBILITY_S * 4)
    assert again.message.id == ids[1]
    assert again.message.delivery_count == 2


def lambda_event(received: list[MessageTypeDef], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping builds from ReceiveMessage output (it
    renames the fields to camel case and the attribute values to stringValue/dataType)."""
    return {
        "Records": [
            {
                "messageId": raw["MessageId"],
                "receiptHandle": raw["ReceiptHandle"],
                "body": raw["Body"],
                "attributes": dict(raw.get("Attributes", {})),
                "messageAttributes": {
                    name: {
                        "stringValue": value.get("StringValue"),
                        "stringListValues": [],
                        "binaryListValues": [],
                        "dataType": value["DataType"],
                    }
                    for name, value in raw.get("MessageAttributes", {}).items()
                },
                "md5OfBody": raw["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(":")[3],
            }
            for raw in received
        ]
    }


def test_a_step_handler_reads_lambda_events_made_from_real_receive_output(sqs: MotoSqs) -> None:
    # GIVEN two messages published by the adapter, received as Lambda's poller receives them
    queue, name = sqs.new_queue()
    ids = [queue.publish(name, {"task_id": f"tsk_{n}"}) for n in range(2)]
    url = sqs.client.get_queue_url(QueueName=queue.prefix + name)["QueueUrl"]
    arn = sqs.client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    received = sqs.client.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        MessageSystemAttributeNames=["All"],
        MessageAttributeNames=["All"],
    )["Messages"]
    our_ids: list[str] = []

    def record_handler(record: SQSRecord) -> None:
        attribute = record.message_attributes["retouch-id"]
        assert attribute is not None
        our_ids.append(attribute.string_value or "")
        if record.json_body["task_id"] == "tsk_1":
            raise RuntimeError("step failed")

    # WHEN the step handler runs on the event Lambda would build
    response = process_batch(lambda_event(received, arn["Attributes"]["QueueArn"]), record_handler)

    # THEN it read our ids, and the failure is reported by SQS's message id, as Lambda expects
    failed_sqs_id = next(raw["MessageId"] for raw in received if "tsk_1" in raw["Body"])
    assert sorted(our_ids) == sorted(ids)
    assert response == {"batchItemFailures": [{"itemIdentifier": failed_sqs_id}]}


def test_the_sqs_backend_is_chosen_by_the_settings(
    sqs: MotoSqs, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the settings of a function on AWS, and a queue under the stack's prefix
    queue, name = sqs.new_queue()
    variables = {
        "RETOUCH_QUEUE_BACKEND": "sqs",
        "RETOUCH_QUEUE_NAME_PREFIX": queue.prefix,
        "RETOUCH_QUEUE_SQS_ENDPOINT_URL": sqs.endpoint_url,
    }
    with queue_settings(monkeypatch, variables):
        # WHEN the process's queue publishes
        process_queue = get_queue()
        message_id = process_queue.publish(name, {"task_id": "tsk_1"})

        # THEN it is the SQS adapter, and the message is on that SQS queue
        assert isinstance(process_queue, SqsQueue)
        assert process_queue is get_queue()
        assert queue.receive(name)[0].message.id == message_id
