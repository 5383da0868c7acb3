"""The outbox in batches on real MariaDB and Redis: the Redis Streams queue publishes a batch
in one pipeline, a bad message failing alone; the relay marks what went out in one statement
and leaves what failed for its next run, each message sent exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.core.time import utc_now
from retouch.queue import InvalidMessage
from retouch.queue.outbox import relay
from retouch.queue.redis_streams import stream_key
from retouch.queue.repository import OutboxRepository
from retouch.queue.sqs_events import consume
from tests.conftest import Stack
from tests.integration.queue_support import new_queue, receive_within, stored, unique_queue

pytestmark = pytest.mark.integration


def outbox_row(outbox_id: int) -> dict[str, Any]:
    with get_database().read_only() as uow:
        row = uow.fetch_one(
            "SELECT published_at, attempts, last_error FROM outbox WHERE id = %s", (outbox_id,)
        )
    assert row is not None
    return row


def test_a_batch_goes_in_one_pipeline_and_a_bad_message_fails_alone(stack: Stack) -> None:
    queue, name = new_queue(), unique_queue()

    outcomes = queue.publish_many(
        [(name, {"n": 1}, 0), (name, {"n": 2}, 5000), (name, {"n": 3}, 0)]
    )

    first, bad, third = outcomes
    assert isinstance(bad, InvalidMessage)
    assert isinstance(first, str) and isinstance(third, str)
    deliveries = queue.receive(name, max_messages=10)
    assert [(d.message.id, d.message.body) for d in deliveries] == [
        (first, {"n": 1}),
        (third, {"n": 3}),
    ]


def test_the_relay_marks_its_batch_in_one_statement_and_retries_only_the_failed_row(
    stack: Stack,
) -> None:
    # GIVEN three rows a crash left unpublished, the second with a delay no queue accepts
    name = unique_queue()
    good, bad, other = stored(name, 0, 1), stored(name, 5000, 2), stored(name, 60, 3)
    queue = new_queue()

    # WHEN the relay runs
    first = relay(database=get_database("job"), queue=queue, min_age_s=5)

    # THEN the good rows are on the queue and marked, the bad one is kept with its failure
    assert first.published >= 2 and first.failed >= 1
    assert outbox_row(good)["published_at"] is not None
    assert outbox_row(other)["published_at"] is not None
    failed = outbox_row(bad)
    assert (failed["published_at"], failed["attempts"], failed["last_error"]) == (
        None,
        1,
        "InvalidMessage",
    )
    assert get_redis().xlen(stream_key(name)) == 1  # the third waits out its minute of delay

    # WHEN the row is mended and the relay runs again
    with get_database().unit_of_work() as uow:
        uow.execute("UPDATE outbox SET delay_s = 0 WHERE id = %s", (bad,))
        uow.commit()
    relay(database=get_database("job"), queue=queue, min_age_s=5)

    # THEN it goes out too, and nothing went twice
    assert outbox_row(bad)["published_at"] is not None
    assert get_redis().xlen(stream_key(name)) == 2
    assert sorted(d.message.body["n"] for d in queue.receive(name, max_messages=10)) == [1, 2]


def test_marking_many_marks_only_the_unpublished_ones(stack: Stack) -> None:
    name = unique_queue()
    ids = [stored(name, 0, n) for n in range(3)]
    now = utc_now()
    with get_database("job").unit_of_work() as uow:
        outbox = uow.repository(OutboxRepository)
        assert outbox.mark_all_published(ids[:1], now=now) == 1
        assert outbox.mark_all_published(ids, now=now) == 2
        assert outbox.mark_all_published([], now=now) == 0
        uow.commit()

    assert [outbox_row(i)["attempts"] for i in ids] == [1, 1, 1]


def exec_calls() -> int:
    """How many MULTI … EXEC blocks the Redis server has run so far."""
    stats = get_redis().info("commandstats")
    return int(stats.get("cmdstat_exec", {}).get("calls", 0))


def test_a_batch_is_acknowledged_in_one_transaction_and_a_failure_is_delivered_again(
    stack: Stack,
) -> None:
    # GIVEN three messages received in one batch, the second failing in its handler
    queue, name = new_queue(), unique_queue()
    for n in range(3):
        queue.publish(name, {"n": n})

    def handler(event: dict[str, Any], _context: Any) -> dict[str, Any]:
        [_, second, _] = event["Records"]
        return {"batchItemFailures": [{"itemIdentifier": second["messageId"]}]}

    # WHEN the local consumer runs the batch
    before = exec_calls()
    outcome = consume(queue, name, handler, max_messages=10)

    # THEN the two successes are acknowledged together, in one MULTI … EXEC
    assert (len(outcome.acknowledged), len(outcome.failed)) == (2, 1)
    assert exec_calls() - before == 1
    # AND only the failure is left: it is delivered again once its visibility ends
    assert get_redis().xlen(stream_key(name)) == 1
    [again], _ = receive_within(queue, name, 5)
    assert again.message.body == {"n": 1}
    assert again.message.delivery_count == 2
    # AND acknowledging a delivery twice counts it once
    assert queue.ack_many([again]) == 1
    assert queue.ack_many([again]) == 0
    assert queue.ack_many([]) == 0
