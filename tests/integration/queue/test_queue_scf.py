"""The scf queue backend (SCF asynchronous invocation, docs/queue-tencent.md) against a loopback
fake of SCF's Invoke API that checks TC3 signatures and fields, with the real Redis that holds
delays, delivery counts and dead letters."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException

from retouch.core.redis import get_redis
from retouch.queue import (
    ALL,
    ConsumerRules,
    Delivery,
    Envelope,
    InvalidMessage,
    NotSupported,
    QueueMessage,
    ScfInvokeQueue,
    ScfLedger,
    UnknownQueue,
    run_invoked,
    run_scf_batch,
)
from retouch.queue.scf_invoke import RELEASE_LEASE_S
from retouch.queue.scf_ledger import DELAYED_KEY
from tests.conftest import Stack
from tests.integration.queue_scf_fake import SECRET_ID, SECRET_KEY, FakeScf, running_fake_scf
from tests.integration.queue_support import unique_queue

pytestmark = pytest.mark.integration

REGION, PREFIX, TOKEN = "ap-guangzhou", "retouch-test-", "role-session-token"
START_MS = 1_800_000_000_000


class Clock:
    """Milliseconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now_ms = START_MS

    def __call__(self) -> int:
        return self.now_ms


@pytest.fixture
def queue_name() -> str:
    return unique_queue()


@pytest.fixture
def scf(stack: Stack, monkeypatch: pytest.MonkeyPatch, queue_name: str) -> Iterator[FakeScf]:
    """The fake API knowing the queue's function, the role credentials SCF injects, and no
    delayed message left by another test."""
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", SECRET_KEY)
    monkeypatch.setenv("TENCENTCLOUD_SESSIONTOKEN", TOKEN)
    get_redis().delete(DELAYED_KEY)
    with running_fake_scf({PREFIX + queue_name}) as fake:
        yield fake


def new_queue(scf: FakeScf, clock: Clock, *, max_deliveries: int = 3) -> ScfInvokeQueue:
    return ScfInvokeQueue(
        region=REGION,
        ledger=ScfLedger(get_redis()),
        prefix=PREFIX,
        namespace="retouch",
        qualifier="live",
        endpoint=scf.url,
        max_deliveries=max_deliveries,
        retry_delay_s=30,
        clock_ms=clock,
    )


def consumer_rules(queue: ScfInvokeQueue) -> ConsumerRules:
    return ConsumerRules(
        ledger=queue.ledger,
        max_deliveries=queue.max_deliveries,
        retry_delay_s=queue.retry_delay_s,
        resend=lambda envelope, delay_s: queue.send(envelope, delay_s=delay_s),
    )


class StepHandler:
    """A Lambda-style step handler that fails its records while `failing`, and remembers the
    receive counts it saw."""

    def __init__(self, *, failing: bool) -> None:
        self.failing = failing
        self.counts: list[int] = []
        self.bodies: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        failures = []
        for record in event["Records"]:
            self.counts.append(int(record["attributes"]["ApproximateReceiveCount"]))
            self.bodies.append(json.loads(record["body"]))
            if self.failing:
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}


def entry_point(handler: StepHandler, queue: ScfInvokeQueue) -> Any:
    """The step function's SCF entry point with the test's queue rules."""

    def main_handler(event: dict[str, Any], context: Any) -> Any:
        envelopes = [Envelope.from_record(r["RetouchQueue"]) for r in event["Records"]]
        return run_invoked(envelopes, handler, context, rules=consumer_rules(queue))

    return main_handler


def test_publish_invokes_the_queues_function_asynchronously_with_the_message_as_event(
    scf: FakeScf, queue_name: str
) -> None:
    # WHEN a step message is published
    message_id = new_queue(scf, Clock()).publish(queue_name, {"task_id": "tsk_1", "step": "生成"})

    # THEN SCF got one signed Invoke: the prefixed function, asynchronous, in the namespace and
    # qualifier configured, with the role's token and region, the envelope as the event
    [invocation] = scf.invocations
    parameters = dict(invocation.parameters)
    parameters.pop("ClientContext")
    assert parameters == {
        "FunctionName": PREFIX + queue_name,
        "InvocationType": "Event",
        "Namespace": "retouch",
        "Qualifier": "live",
    }
    assert invocation.event == {
        "Records": [
            {
                "RetouchQueue": {
                    "queue": queue_name,
                    "msgId": message_id,
                    "msgBody": '{"task_id":"tsk_1","step":"生成"}',
                    "sentAtMs": START_MS,
                }
            }
        ]
    }
    assert (invocation.token, invocation.region) == (TOKEN, REGION)


def test_a_request_signed_with_another_key_is_refused_and_nothing_is_invoked(
    scf: FakeScf, queue_name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "not-the-key")

    with pytest.raises(TencentCloudSDKException) as refused:
        new_queue(scf, Clock()).publish(queue_name, {"task_id": "tsk_1"})

    assert refused.value.get_code() == "AuthFailure"
    assert scf.invocations == []


def test_a_queue_without_a_function_is_a_clear_error_naming_the_function(scf: FakeScf) -> None:
    with pytest.raises(UnknownQueue, match=rf"'{PREFIX}missing'"):
        new_queue(scf, Clock()).publish("missing", {"task_id": "tsk_1"})

    assert scf.refused == ["ResourceNotFound.Function"]


@pytest.mark.parametrize(
    ("body", "delay_s"),
    [({"value": float("inf")}, 0), (["not", "an", "object"], 0), ({"task_id": "t"}, 901)],
)
def test_bad_bodies_and_delays_are_refused_before_any_request(
    scf: FakeScf, queue_name: str, body: Any, delay_s: float
) -> None:
    with pytest.raises(InvalidMessage):
        new_queue(scf, Clock()).publish(queue_name, body, delay_s=delay_s)

    assert scf.invocations == []


def test_a_delayed_message_is_not_invoked_before_it_is_due_and_is_invoked_once(
    scf: FakeScf, queue_name: str
) -> None:
    # GIVEN a message published with a 2.5 s delay
    clock = Clock()
    queue = new_queue(scf, clock)
    message_id = queue.publish(queue_name, {"task_id": "tsk_1"}, delay_s=2.5)
    assert scf.invocations == []

    # WHEN the relay runs a millisecond early THEN nothing goes out
    clock.now_ms = START_MS + 2_499
    assert queue.release_due() == 0
    assert scf.invocations == []

    # WHEN it runs when due THEN the message is invoked, once
    clock.now_ms = START_MS + 2_500
    assert queue.release_due() == 1
    assert queue.release_due() == 0
    assert [i.event["Records"][0]["RetouchQueue"]["msgId"] for i in scf.invocations] == [message_id]


def test_a_relay_that_dies_after_claiming_leaves_the_message_to_the_next_run(
    scf: FakeScf, queue_name: str
) -> None:
    # GIVEN a due message claimed by a relay that died before invoking it
    clock = Clock()
    queue = new_queue(scf, clock)
    queue.publish(queue_name, {"task_id": "tsk_1"}, delay_s=1)
    clock.now_ms += 1_000
    assert len(queue.ledger.claim_due(now_ms=clock(), lease_ms=RELEASE_LEASE_S * 1000, limit=10))

    # WHEN another relay runs within the lease THEN it leaves the message alone
    assert queue.release_due() == 0

    # WHEN a relay runs after the lease THEN the message goes out
    clock.now_ms += RELEASE_LEASE_S * 1000
    assert queue.release_due() == 1
    assert len(scf.invocations) == 1


def test_a_failing_message_is_retried_after_the_visibility_timeout_then_dead_lettered(
    scf: FakeScf, queue_name: str
) -> None:
    # GIVEN a published message whose step keeps failing
    clock = Clock()
    queue = new_queue(scf, clock, max_deliveries=3)
    message_id = queue.publish(queue_name, {"task_id": "tsk_1"})
    handler = StepHandler(failing=True)
    main_handler = entry_point(handler, queue)

    for _ in (1, 2):
        # WHEN SCF runs the invocation THEN the failure is reported, nothing is invoked at once,
        # and the message is invoked again (same id) when the retry delay has passed
        [result] = scf.deliver(main_handler)
        assert result == {"batchItemFailures": [{"itemIdentifier": message_id}]}
        assert scf.invocations == []
        clock.now_ms += 30_000
        assert queue.release_due() == 1
        assert scf.invocations[0].event["Records"][0]["RetouchQueue"]["msgId"] == message_id
        assert queue.list_dead(queue_name) == []

    # WHEN the third (last) arrival fails too
    scf.deliver(main_handler)

    # THEN it is a dead letter with its deliveries, no retry is scheduled, and the handler saw
    # the receive counts 1, 2, 3
    clock.now_ms += 30_000
    assert queue.release_due() == 0
    [dead] = queue.list_dead(queue_name)
    assert (dead.message.id, dead.message.delivery_count) == (message_id, 3)
    assert dead.message.body == {"task_id": "tsk_1"}
    assert handler.counts == [1, 2, 3]

    # WHEN an operator redrives it and the step now succeeds
    assert queue.redrive(queue_name, ALL) == 1
    handler.failing = False
    [result] = scf.deliver(main_handler)

    # THEN it ran once more with a fresh count, and the dead-letter store is empty
    assert result == {"batchItemFailures": []}
    assert handler.counts[-1] == 1
    assert queue.list_dead(queue_name) == []


def test_a_last_attempt_that_crashes_leaves_a_dead_letter_and_a_platform_retry_is_not_run(
    scf: FakeScf, queue_name: str
) -> None:
    # GIVEN a message on its last allowed arrival (max 1), whose function instance crashes
    queue = new_queue(scf, Clock(), max_deliveries=1)
    message_id = queue.publish(queue_name, {"task_id": "tsk_1"})
    [invocation] = scf.invocations

    def crashing(event: dict[str, Any], context: Any) -> Any:
        raise MemoryError("the instance was killed")

    rules = consumer_rules(queue)
    envelopes = [Envelope.from_record(invocation.event["Records"][0]["RetouchQueue"])]
    with pytest.raises(MemoryError):
        run_invoked(envelopes, crashing, None, rules=rules)

    # THEN the dead letter was written before it ran
    assert [dead.message.id for dead in queue.list_dead(queue_name)] == [message_id]

    # WHEN SCF's async retry delivers the event again THEN it is not run, and stays dead
    handler = StepHandler(failing=False)
    result = run_invoked(envelopes, handler, None, rules=rules)
    assert result == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    assert handler.counts == []
    assert [dead.message.delivery_count for dead in queue.list_dead(queue_name)] == [2]


def test_a_succeeding_last_attempt_leaves_no_dead_letter(scf: FakeScf, queue_name: str) -> None:
    queue = new_queue(scf, Clock(), max_deliveries=1)
    queue.publish(queue_name, {"task_id": "tsk_1"})

    [result] = scf.deliver(entry_point(StepHandler(failing=False), queue))

    assert result == {"batchItemFailures": []}
    assert queue.list_dead(queue_name) == []


def test_run_scf_batch_sends_an_invoked_event_to_the_invoked_consumer(
    scf: FakeScf, queue_name: str
) -> None:
    # GIVEN an invoked message and a handler that succeeds
    queue = new_queue(scf, Clock())
    queue.publish(queue_name, {"task_id": "tsk_1"})
    handler = StepHandler(failing=False)

    # WHEN the SCF entry point's batch runner gets the event (settings' rules, the stack Redis)
    [result] = scf.deliver(lambda event, context: run_scf_batch(event, handler, context))

    # THEN the handler got the body with its receive count, and nothing failed
    assert result == {"batchItemFailures": []}
    assert (handler.bodies, handler.counts) == ([{"task_id": "tsk_1"}], [1])


def test_consuming_operations_say_that_scf_delivers(scf: FakeScf) -> None:
    queue = new_queue(scf, Clock())
    delivery = Delivery("steps", "receipt", "consumer", QueueMessage("id", {}, 1, 0))

    for operation in (
        lambda: queue.receive("steps"),
        lambda: queue.ack(delivery),
        lambda: queue.retry_later(delivery),
    ):
        with pytest.raises(NotSupported, match="SCF invokes"):
            operation()
