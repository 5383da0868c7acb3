"""Queue event shapes without servers: SQS events built from deliveries, Powertools batch
responses, the SCF trigger events, and the checks on names and bodies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from retouch.queue import (
    BatchFailed,
    Delivery,
    InvalidMessage,
    InvalidQueueName,
    QueueMessage,
    UnknownEventShape,
    process_batch,
    run_scf_batch,
    scf_queue_messages,
    sqs_event,
    sqs_event_from_scf,
)
from retouch.queue.messages import MAX_BODY_BYTES, check_queue_name, encode_body
from retouch.queue.sqs_events import _failed_ids

CMQ_TOPIC_EVENT = {
    "Records": [
        {
            "CMQ": {
                "type": "topic",
                "topicOwner": "120xxxxx",
                "topicName": "task-steps",
                "subscriptionName": "task-steps-fn",
                "publishTime": "2026-11-28T00:00:00.000Z",
                "msgId": "123345346",
                "requestId": "123345346",
                "msgBody": '{"task_id":"tsk_1","step":"prepare","attempt":1}',
                "msgTag": "",
            }
        },
        {
            "CMQ": {
                "type": "topic",
                "topicName": "task-steps",
                "msgId": "123345347",
                "msgBody": '{"task_id":"tsk_2","step":"prepare","attempt":1}',
            }
        },
    ]
}

TDMQ_EVENT = {
    "specversion": "0",
    "id": "13a3f42d-7258-4ada-da6d-023a333b4662",
    "type": "connector:tdmq",
    "source": "tdmq.cloud.tencent",
    "subjuect": "qcs::tdmq:ap-guangzhou:uin/1250000000:topicName/appid/namespace/topic-1",
    "time": "1615430559146",
    "region": "ap-guangzhou",
    "datacontenttype": "application/json;charset=utf-8",
    "data": {
        "topic": "persistent://appid/namespace/topic-1",
        "tags": "testtopic",
        "TopicType": "0",
        "subscriptionName": "xxxxxx",
        "toTimestamp": "1615430559146",
        "partitions": "0",
        "msgId": "RzNTw1MTAwMDE=",
        "msgBody": '{"task_id":"tsk_3","step":"generate","attempt":2}',
    },
}


def delivery(task_id: str, *, count: int = 1) -> Delivery:
    message = QueueMessage(
        id=f"id-{task_id}", body={"task_id": task_id}, delivery_count=count, sent_at_ms=1000
    )
    return Delivery(queue="steps", receipt=f"1-{task_id}", consumer="c", message=message)


def test_an_sqs_event_carries_what_lambda_puts_in_each_record() -> None:
    event = sqs_event([delivery("a", count=3)], received_at_ms=2000)

    [record] = event["Records"]
    assert record["messageId"] == "id-a"
    assert record["messageAttributes"]["retouch-id"]["stringValue"] == "id-a"
    assert record["receiptHandle"] == "1-a"
    assert json.loads(record["body"]) == {"task_id": "a"}
    assert record["attributes"]["ApproximateReceiveCount"] == "3"
    assert record["attributes"]["SentTimestamp"] == "1000"
    assert record["attributes"]["ApproximateFirstReceiveTimestamp"] == "2000"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":steps")
    assert SQSRecord(record).json_body == {"task_id": "a"}


def test_process_batch_reports_the_failed_records_by_message_id() -> None:
    def record_handler(record: SQSRecord) -> None:
        if record.json_body["task_id"] == "b":
            raise RuntimeError("boom")

    response = process_batch(sqs_event([delivery("a"), delivery("b")]), record_handler)

    assert response == {"batchItemFailures": [{"itemIdentifier": "id-b"}]}


def test_process_batch_reports_no_failures_when_every_record_succeeds() -> None:
    response = process_batch(sqs_event([delivery("a")]), lambda record: None)

    assert response == {"batchItemFailures": []}


def test_process_batch_raises_when_every_record_fails() -> None:
    def record_handler(record: SQSRecord) -> None:
        raise RuntimeError("boom")

    with pytest.raises(BatchProcessingError):
        process_batch(sqs_event([delivery("a")]), record_handler)


@pytest.mark.parametrize(
    ("response", "failed"),
    [
        (None, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "id-b"}]}, {"id-b"}),
        ({"batchItemFailures": [{"itemIdentifier": "unknown"}]}, {"id-a", "id-b"}),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, {"id-a", "id-b"}),
        ({"batchItemFailures": [{"wrong": "id-a"}]}, {"id-a", "id-b"}),
    ],
)
def test_a_failure_naming_no_record_of_the_batch_fails_the_whole_batch(
    response: Any, failed: set[str]
) -> None:
    assert _failed_ids(response, ["id-a", "id-b"]) == failed


def test_a_cmq_trigger_event_yields_its_message_bodies_in_order() -> None:
    messages = scf_queue_messages(CMQ_TOPIC_EVENT)

    assert [(m.id, m.source, m.body["task_id"]) for m in messages] == [
        ("123345346", "task-steps", "tsk_1"),
        ("123345347", "task-steps", "tsk_2"),
    ]


def test_a_tdmq_eventbridge_event_yields_its_one_message() -> None:
    [message] = scf_queue_messages(TDMQ_EVENT)

    assert message.id == "RzNTw1MTAwMDE="
    assert message.body == {"task_id": "tsk_3", "step": "generate", "attempt": 2}


def test_a_ckafka_record_is_read_with_topic_partition_and_offset_as_its_id() -> None:
    event = {"Records": [{"Ckafka": {"topic": "t", "partition": 1, "offset": 7, "msgBody": "{}"}}]}

    [message] = scf_queue_messages(event)

    assert (message.id, message.body) == ("t:1:7", {})


@pytest.mark.parametrize(
    "event",
    [{}, {"Records": []}, {"Records": [{"cos": {}}]}, {"type": "connector:ckafka", "data": {}}],
)
def test_an_event_of_another_shape_is_refused(event: dict[str, Any]) -> None:
    with pytest.raises(UnknownEventShape):
        scf_queue_messages(event)


def test_a_record_whose_body_is_not_a_json_object_is_refused() -> None:
    event = {"Records": [{"CMQ": {"msgId": "1", "msgBody": "Hello from CMQ!"}}]}

    with pytest.raises(InvalidMessage):
        scf_queue_messages(event)


def test_a_lambda_style_handler_runs_unchanged_on_an_scf_event() -> None:
    seen: list[str] = []

    def record_handler(record: SQSRecord) -> None:
        seen.append(record.json_body["task_id"])

    response = run_scf_batch(
        CMQ_TOPIC_EVENT, lambda event, context: process_batch(event, record_handler, context)
    )

    assert seen == ["tsk_1", "tsk_2"]
    assert response == {"batchItemFailures": []}
    assert sqs_event_from_scf(TDMQ_EVENT)["Records"][0]["messageId"] == "RzNTw1MTAwMDE="


def test_a_partly_failed_scf_batch_raises_so_the_trigger_retries_it() -> None:
    def record_handler(record: SQSRecord) -> None:
        if record.json_body["task_id"] == "tsk_2":
            raise RuntimeError("boom")

    with pytest.raises(BatchFailed) as raised:
        run_scf_batch(
            CMQ_TOPIC_EVENT, lambda event, context: process_batch(event, record_handler, context)
        )

    assert raised.value.failed_ids == ["123345347"]


@pytest.mark.parametrize("name", ["", "a" * 81, "steps:dlq", "steps queue", "步骤"])
def test_a_queue_name_outside_the_sqs_rule_is_refused(name: str) -> None:
    with pytest.raises(InvalidQueueName):
        check_queue_name(name)


@pytest.mark.parametrize(
    "body", [[1, 2], {"x": float("nan")}, {"x": object()}, {"x": "a" * MAX_BODY_BYTES}]
)
def test_a_body_that_is_not_a_small_json_object_is_refused(body: Any) -> None:
    with pytest.raises(InvalidMessage):
        encode_body(body)
