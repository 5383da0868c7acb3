"""The `dlq_depth` rule's input on SQS (moto) and on the cmq backend (the loopback TDMQ fake),
read through the queue port's `depth`: a dead letter in a step queue's dead-letter queue is
observed without being received, an empty deploy observes nothing, and a queue the platform
does not have, or a refused call, is the input being unavailable (the rule keeps its state)
rather than "recovered"."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from retouch.alerts.inputs import InputUnavailable
from retouch.alerts.live import LiveAlertInputs
from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.queue import CmqPublisher, QueuePort, SqsQueue
from retouch.queue.steps import STEP_KINDS
from tests.conftest import Stack
from tests.integration.sqs_support import MotoSqs
from tests.integration.tencent_support import FakeTencentCloud, fake_tencent_cloud

pytestmark = pytest.mark.integration

NOW = datetime(2026, 1, 5, 12, tzinfo=timezone.utc)


def deployed(sqs: MotoSqs, prefix: str) -> SqsQueue:
    """The step queues and their dead-letter queues, as template.yaml makes them."""
    for kind in STEP_KINDS:
        sqs.client.create_queue(QueueName=f"{prefix}steps-{kind}")
        sqs.client.create_queue(QueueName=f"{prefix}steps-{kind}-dlq")
    return SqsQueue(prefix=prefix, endpoint_url=sqs.endpoint_url)


def inputs(queue: QueuePort) -> LiveAlertInputs:
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


def test_a_dead_letter_on_cmq_is_observed_from_tdmq_s_counts(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the cmq backend's step queues on the fake TDMQ API, the generate queue's
    # dead-letter queue holding 2 messages (one of them in flight)
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", "AKIDtest")
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "test-secret-key")
    fake = FakeTencentCloud("AKIDtest", "test-secret-key", queues={"p-generate-dlq"})
    for kind in STEP_KINDS:
        fake.queues.add(f"p-steps-{kind}")
        fake.details[f"p-steps-{kind}"] = {"ActiveMsgNum": 1, "InactiveMsgNum": 0}
    fake.details["p-steps-generate"]["DeadLetterPolicy"] = {"DeadLetterQueue": "p-generate-dlq"}
    fake.details["p-generate-dlq"] = {"ActiveMsgNum": 1, "InactiveMsgNum": 1}
    with fake_tencent_cloud(fake) as cloud:
        queue = CmqPublisher(region="ap-guangzhou", prefix="p-", endpoint=cloud.endpoint)

        # WHEN the dead-letter rule's input is read
        observed = inputs(queue).observe("dlq_depth", window_s=300, now=NOW)

        # THEN only that queue is observed, with both dead letters
        assert {name: o.value for name, o in observed.items()} == {"steps-generate": 2.0}

        # AND a refused call (another key) is the input being unavailable
        monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "not-the-key")
        refused = CmqPublisher(region="ap-guangzhou", prefix="p-", endpoint=cloud.endpoint)
        with pytest.raises(InputUnavailable, match="dlq_depth"):
            inputs(refused).observe("dlq_depth", window_s=300, now=NOW)
