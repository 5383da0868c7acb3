"""The Tencent publisher (TDMQ SendCmqMsg through the Tencent SDK) against a loopback fake of the
Tencent Cloud API that checks the TC3-HMAC-SHA256 signature like the real one."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from retouch.core.settings import SettingsError, get_settings
from retouch.queue import (
    ALL,
    CmqPublisher,
    Delivery,
    InvalidMessage,
    NotSupported,
    QueueMessage,
    UnknownQueue,
    get_queue,
)
from tests.integration.queue_support import queue_settings
from tests.integration.tencent_support import FakeTencentCloud, fake_tencent_cloud

SECRET_ID, SECRET_KEY, TOKEN = "AKIDtest", "test-secret-key", "test-session-token"
REGION, PREFIX = "ap-guangzhou", "retouch-test-"


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTencentCloud]:
    """The fake API with the queue `retouch-test-steps`, and the role credentials SCF would set."""
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", SECRET_KEY)
    monkeypatch.setenv("TENCENTCLOUD_SESSIONTOKEN", TOKEN)
    fake = FakeTencentCloud(SECRET_ID, SECRET_KEY, queues={f"{PREFIX}steps"})
    with fake_tencent_cloud(fake) as running:
        yield running


def publisher(cloud: FakeTencentCloud) -> CmqPublisher:
    return CmqPublisher(region=REGION, prefix=PREFIX, endpoint=cloud.endpoint)


def test_publish_sends_a_signed_send_cmq_msg_and_returns_the_cmq_message_id(
    cloud: FakeTencentCloud,
) -> None:
    # WHEN a step message is published with a delay
    message_id = publisher(cloud).publish(
        "steps", {"task_id": "tsk_1", "step": "生成"}, delay_s=2.5
    )

    # THEN the API got one signed request naming the prefixed queue, the JSON body and the
    # delay in whole seconds, with the role's session token and the region
    [request] = cloud.requests
    params = dict(request["params"])
    assert json.loads(params.pop("MsgContent")) == {"task_id": "tsk_1", "step": "生成"}
    assert params == {"QueueName": f"{PREFIX}steps", "DelaySeconds": 3}
    assert request["token"] == TOKEN
    assert request["region"] == REGION
    assert len(message_id) == 32


def test_a_request_signed_with_another_key_is_refused_and_the_error_passes_through(
    cloud: FakeTencentCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "not-the-key")

    with pytest.raises(TencentCloudSDKException) as refused:
        publisher(cloud).publish("steps", {"task_id": "tsk_1"})

    assert refused.value.get_code() == "AuthFailure.SignatureFailure"
    assert cloud.requests == []


def test_an_unknown_queue_is_a_clear_error_naming_the_cmq_queue(cloud: FakeTencentCloud) -> None:
    with pytest.raises(UnknownQueue, match=rf"'{PREFIX}missing'"):
        publisher(cloud).publish("missing", {"task_id": "tsk_1"})


@pytest.mark.parametrize(
    ("body", "delay_s"),
    [({"value": float("inf")}, 0), (["not", "an", "object"], 0), ({"task_id": "tsk_1"}, 901)],
)
def test_bad_bodies_and_delays_are_refused_before_any_request(
    cloud: FakeTencentCloud, body: Any, delay_s: float
) -> None:
    with pytest.raises(InvalidMessage):
        publisher(cloud).publish("steps", body, delay_s=delay_s)

    assert cloud.requests == []


def test_consuming_operations_say_that_scf_triggers_consume() -> None:
    queue = CmqPublisher(region=REGION)
    delivery = Delivery("steps", "receipt", "consumer", QueueMessage("id", {}, 1, 0))

    for operation in (
        lambda: queue.receive("steps"),
        lambda: queue.ack(delivery),
        lambda: queue.retry_later(delivery),
        lambda: queue.list_dead("steps"),
        lambda: queue.redrive("steps", ALL),
    ):
        with pytest.raises(NotSupported, match="trigger consumes"):
            operation()


def test_depth_counts_the_queue_and_its_dead_letter_queue_signed(cloud: FakeTencentCloud) -> None:
    # GIVEN the step queue with 4 visible, 2 in flight and 1 delayed message and a dead-letter
    # policy naming its dead-letter queue, which holds 3 (one of them being looked at)
    dead_letters = f"{PREFIX}steps-dead"
    cloud.queues.add(dead_letters)
    cloud.details[f"{PREFIX}steps"] = {
        "ActiveMsgNum": 4,
        "InactiveMsgNum": 2,
        "DelayMsgNum": 1,
        "MinMsgTime": 1_700_000_000,
        "DeadLetterPolicy": {"DeadLetterQueue": dead_letters, "Policy": 0, "MaxReceiveCount": 5},
    }
    cloud.details[dead_letters] = {"ActiveMsgNum": 2, "InactiveMsgNum": 1, "DelayMsgNum": None}

    # WHEN the monitor asks for the depth
    depth = publisher(cloud).depth("steps")

    # THEN both queues were described by signed calls (the fake checks the signature), in the
    # region with the role's token, and the counts add up; no message was received
    assert (depth.waiting, depth.dead, depth.oldest_age_s) == (7, 3, None)
    assert [(r["action"], r["params"]) for r in cloud.requests] == [
        ("DescribeCmqQueueDetail", {"QueueName": f"{PREFIX}steps"}),
        ("DescribeCmqQueueDetail", {"QueueName": dead_letters}),
    ]
    assert {(r["region"], r["token"]) for r in cloud.requests} == {(REGION, TOKEN)}


def test_depth_without_a_dead_letter_policy_has_no_dead_letters(cloud: FakeTencentCloud) -> None:
    cloud.details[f"{PREFIX}steps"] = {"ActiveMsgNum": 0, "InactiveMsgNum": 0}

    depth = publisher(cloud).depth("steps")

    assert (depth.waiting, depth.dead) == (0, 0)
    assert len(cloud.requests) == 1


def test_depth_of_an_unknown_queue_or_with_another_key_is_an_error(
    cloud: FakeTencentCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UnknownQueue, match=rf"'{PREFIX}missing'"):
        publisher(cloud).depth("missing")

    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "not-the-key")
    with pytest.raises(TencentCloudSDKException) as refused:
        publisher(cloud).depth("steps")
    assert refused.value.get_code() == "AuthFailure.SignatureFailure"


def test_the_cmq_backend_is_chosen_by_the_settings_and_needs_a_region(
    cloud: FakeTencentCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the settings of a function on SCF
    variables = {
        "RETOUCH_QUEUE_BACKEND": "cmq",
        "RETOUCH_QUEUE_NAME_PREFIX": PREFIX,
        "RETOUCH_QUEUE_TDMQ_REGION": REGION,
        "RETOUCH_QUEUE_TDMQ_ENDPOINT": cloud.endpoint,
    }
    with queue_settings(monkeypatch, variables):
        # WHEN the process's queue publishes
        queue = get_queue()
        queue.publish("steps", {"task_id": "tsk_1"})

        # THEN it is the TDMQ publisher, and the API got the message
        assert isinstance(queue, CmqPublisher)
        assert [request["params"]["QueueName"] for request in cloud.requests] == [f"{PREFIX}steps"]

    # AND without a region the settings name the missing variable
    without_region = {**variables, "RETOUCH_QUEUE_TDMQ_REGION": ""}
    with (
        queue_settings(monkeypatch, without_region),
        pytest.raises(SettingsError, match="RETOUCH_QUEUE_TDMQ_REGION"),
    ):
        get_settings()
