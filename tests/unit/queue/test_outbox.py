"""The transactional outbox: a message is stored with its transaction, published after the
commit, relayed if that failed, marked published once and purged only once published."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from retouch.core.metrics import Recorder, end_invocation, reset_recorder
from retouch.queue.messages import InvalidMessage, InvalidQueueName
from retouch.queue.metrics import gauge_outbox_backlog
from retouch.queue.outbox import enqueue_in, publish_committed, purge_published, relay
from retouch.queue.repository import OutboxMessage
from tests.fakes.metrics import MemorySink
from tests.fakes.outbox import FakeOutboxRepository, RecordingQueue
from tests.fakes.units import InMemoryDatabase

T0 = datetime(2030, 5, 10, 12, 0, tzinfo=timezone.utc)
LATER = T0 + timedelta(minutes=1)


@pytest.fixture
def queue() -> RecordingQueue:
    return RecordingQueue()


def enqueue(
    database: InMemoryDatabase, *bodies: dict[str, Any], queue: str = "steps-prepare"
) -> list[OutboxMessage]:
    with database.unit_of_work() as uow:
        messages = [enqueue_in(uow, queue, body, clock=lambda: T0) for body in bodies]
        uow.commit()
    return messages


def test_an_enqueued_message_waitsunpublished_in_the_outbox(
    database: InMemoryDatabase, outbox: FakeOutboxRepository, queue: RecordingQueue
) -> None:
    (message,) = enqueue(database, {"task_id": "tsk_1"})

    (row,) = outbox.rows.values()
    assert (row.id, row.queue, row.body, row.created_at, row.published_at) == (
        message.id,
        "steps-prepare",
        '{"task_id":"tsk_1"}',
        T0,
        None,
    )
    assert queue.published == []


def test_a_message_keeps_its_delay(
    database: InMemoryDatabase, outbox: FakeOutboxRepository
) -> None:
    with database.unit_of_work() as uow:
        message = enqueue_in(uow, "steps-generate", {"n": 1}, delay_s=30, clock=lambda: T0)
        uow.commit()

    assert message.delay_s == outbox.rows[message.id].delay_s == 30


def test_a_message_of_a_transaction_that_did_not_commit_is_gone(
    database: InMemoryDatabase, outbox: FakeOutboxRepository
) -> None:
    with database.unit_of_work() as uow:
        enqueue_in(uow, "steps-prepare", {"task_id": "tsk_1"}, clock=lambda: T0)

    assert outbox.rows == {}


@pytest.mark.parametrize(
    ("queue_name", "body", "error"),
    [
        ("Steps Prepare!", {"n": 1}, InvalidQueueName),
        ("steps-prepare", {"n": float("nan")}, InvalidMessage),
        ("steps-prepare", {"n": object()}, InvalidMessage),
        ("steps-prepare", ["not", "an", "object"], InvalidMessage),
    ],
    ids=["bad-queue-name", "nan", "not-json", "not-an-object"],
)
def test_a_bad_message_is_refused_before_anything_is_stored(
    database: InMemoryDatabase,
    outbox: FakeOutboxRepository,
    queue_name: str,
    body: object,
    error: type[Exception],
) -> None:
    with database.unit_of_work() as uow, pytest.raises(error):
        enqueue_in(uow, queue_name, body, clock=lambda: T0)  # type: ignore[arg-type]

    assert outbox.rows == {}


def test_committed_messages_are_published_and_marked(
    database: InMemoryDatabase, outbox: FakeOutboxRepository, queue: RecordingQueue
) -> None:
    messages = enqueue(database, {"n": 1}, {"n": 2})

    count = publish_committed(
        database=database, queue=queue, messages=messages, clock=lambda: LATER
    )

    assert count == 2
    assert queue.published == [("steps-prepare", {"n": 1}, 0), ("steps-prepare", {"n": 2}, 0)]
    assert {(row.published_at, row.attempts) for row in outbox.rows.values()} == {(LATER, 1)}


def test_a_failed_publish_is_left_to_the_relay(
    database: InMemoryDatabase, outbox: FakeOutboxRepository, queue: RecordingQueue
) -> None:
    messages = enqueue(database, {"n": 1})
    queue.down.add("steps-prepare")

    count = publish_committed(database=database, queue=queue, messages=messages)

    assert count == 0
    assert len(outbox.unpublished()) == 1


def test_the_relay_publishes_what_is_older_than_its_minimum_age_oldest_first(
    database: InMemoryDatabase, outbox: FakeOutboxRepository, queue: RecordingQueue
) -> None:
    enqueue(database, {"n": 1}, {"n": 2})
    with database.unit_of_work() as uow:
        enqueue_in(uow, "steps-prepare", {"n": 3}, clock=lambda: LATER)
        uow.commit()

    report = relay(database=database, queue=queue, min_age_s=5, clock=lambda: LATER)

    assert (report.published, report.failed) == (2, 0)
    assert [body for _, body, _ in queue.published] == [{"n": 1}, {"n": 2}]
    assert [row.body for row in outbox.unpublished()] == ['{"n":3}']


def test_the_relay_publishes_a_message_once(
    database: InMemoryDatabase, queue: RecordingQueue
) -> None:
    enqueue(database, {"n": 1})

    first = relay(database=database, queue=queue, clock=lambda: LATER)
    second = relay(database=database, queue=queue, clock=lambda: LATER)

    assert (first.published, second.published) == (1, 0)
    assert len(queue.published) == 1


def test_the_relay_skips_what_the_request_already_published(
    database: InMemoryDatabase, queue: RecordingQueue
) -> None:
    messages = enqueue(database, {"n": 1})
    publish_committed(database=database, queue=queue, messages=messages, clock=lambda: T0)

    report = relay(database=database, queue=queue, clock=lambda: LATER)

    assert report.published == 0
    assert len(queue.published) == 1


def test_a_message_published_twice_is_marked_once(
    database: InMemoryDatabase, outbox: FakeOutboxRepository, queue: RecordingQueue
) -> None:
    messages = enqueue(database, {"n": 1})

    publish_committed(database=database, queue=queue, messages=messages, clock=lambda: T0)
    publish_committed(database=database, queue=queue, messages=messages, clock=lambda: LATER)

    (row,) = outbox.rows.values()
    assert (row.published_at, row.attempts) == (T0, 1)


def test_a_failed_relay_records_the_attempt_and_retries_next_time(
    database: InMemoryDatabase, outbox: FakeOutboxRepository, queue: RecordingQueue
) -> None:
    enqueue(database, {"n": 1})
    queue.down.add("steps-prepare")

    failed = relay(database=database, queue=queue, clock=lambda: LATER)
    (row,) = outbox.rows.values()
    assert (failed.failed, row.attempts, row.last_error, row.published_at) == (
        1,
        1,
        "QueueDown",
        None,
    )

    queue.down.clear()
    retried = relay(database=database, queue=queue, clock=lambda: LATER)

    assert retried.published == 1
    assert outbox.unpublished() == []


def test_one_failing_queue_does_not_hold_back_the_others(
    database: InMemoryDatabase, outbox: FakeOutboxRepository, queue: RecordingQueue
) -> None:
    enqueue(database, {"n": 1}, queue="steps-prepare")
    enqueue(database, {"n": 2}, queue="steps-generate")
    queue.down.add("steps-prepare")

    report = relay(database=database, queue=queue, clock=lambda: LATER)

    assert (report.published, report.failed) == (1, 1)
    assert [row.queue for row in outbox.unpublished()] == ["steps-prepare"]


def test_the_relay_works_through_every_batch(
    database: InMemoryDatabase, outbox: FakeOutboxRepository, queue: RecordingQueue
) -> None:
    enqueue(database, *({"n": n} for n in range(5)))

    report = relay(database=database, queue=queue, batch=2, clock=lambda: LATER)

    assert report.published == 5
    assert [body["n"] for _, body, _ in queue.published] == [0, 1, 2, 3, 4]
    assert database.commits == 1 + 3  # the enqueue, then one per batch (2 + 2 + 1)


def test_purging_deletes_only_messages_published_before_the_cutoff(
    database: InMemoryDatabase, outbox: FakeOutboxRepository, queue: RecordingQueue
) -> None:
    old, recent, unpublished = enqueue(database, {"n": 1}, {"n": 2}, {"n": 3})
    publish_committed(database=database, queue=queue, messages=[old], clock=lambda: T0)
    publish_committed(database=database, queue=queue, messages=[recent], clock=lambda: LATER)

    deleted = purge_published(database=database, older_than=LATER)

    assert deleted == 1
    assert sorted(outbox.rows) == [recent.id, unpublished.id]


def test_purging_stops_at_its_limit(
    database: InMemoryDatabase, outbox: FakeOutboxRepository, queue: RecordingQueue
) -> None:
    messages = enqueue(database, *({"n": n} for n in range(3)))
    publish_committed(database=database, queue=queue, messages=messages, clock=lambda: T0)

    deleted = purge_published(database=database, older_than=LATER, limit=2)

    assert deleted == 2
    assert len(outbox.rows) == 1


def test_ids_are_not_reused_after_a_purge(
    database: InMemoryDatabase, queue: RecordingQueue
) -> None:
    (first,) = enqueue(database, {"n": 1})
    publish_committed(database=database, queue=queue, messages=[first], clock=lambda: T0)
    purge_published(database=database, older_than=LATER)

    (second,) = enqueue(database, {"n": 2})

    assert second.id > first.id


def test_the_relay_reports_the_backlog_a_failing_queue_left(
    database: InMemoryDatabase, queue: RecordingQueue
) -> None:
    enqueue(database, {"n": 1}, {"n": 2}, queue="steps-prepare")
    enqueue(database, {"n": 3}, queue="steps-generate")
    with database.unit_of_work() as uow:
        enqueue_in(uow, "steps-prepare", {"n": 4}, clock=lambda: LATER)  # too young to count
        uow.commit()
    queue.down.add("steps-prepare")

    report = relay(database=database, queue=queue, min_age_s=5, clock=lambda: LATER)

    assert (report.published, report.failed, report.backlog) == (1, 2, 2)


def test_a_relay_that_published_everything_reports_no_backlog(
    database: InMemoryDatabase, queue: RecordingQueue
) -> None:
    enqueue(database, {"n": 1}, {"n": 2})

    report = relay(database=database, queue=queue, batch=1, clock=lambda: LATER)

    assert (report.published, report.backlog) == (2, 0)


def test_the_backlog_gauge_is_emitted_with_the_service_dimension() -> None:
    sink = MemorySink()
    reset_recorder(Recorder(sink))
    try:
        gauge_outbox_backlog(3)
        gauge_outbox_backlog(0)
        end_invocation()
    finally:
        reset_recorder()

    assert sink.delivered() == [
        ("OutboxBacklog", 3, "Count", {"service": "retouch"}),
        ("OutboxBacklog", 0, "Count", {"service": "retouch"}),
    ]
