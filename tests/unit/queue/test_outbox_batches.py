"""The outbox in batches: the relay publishes a batch together where the queue can and marks
it in one statement, a message that failed waits alone for the next run; a step function's
marks wait for the end of its batch of messages (`DeferredMarks`), and a mark that never
lands only means one more delivery."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

from retouch.queue.marks import DeferredMarks
from retouch.queue.outbox import enqueue_in, publish_committed, relay
from retouch.queue.port import BatchPublisher
from retouch.queue.repository import OutboxMessage
from tests.fakes.outbox import FakeOutboxRepository, QueueDown, RecordingQueue
from tests.fakes.units import InMemoryDatabase

T0 = datetime(2030, 5, 10, 12, 0, tzinfo=timezone.utc)
LATER = T0 + timedelta(minutes=1)


class BatchQueue(RecordingQueue):
    """A `RecordingQueue` that also publishes in batches, counting its round trips; a message
    to a queue in `down` fails alone, as one command of a pipeline does."""

    def __init__(self) -> None:
        super().__init__()
        self.round_trips = 0

    def publish_many(
        self, messages: list[tuple[str, dict[str, Any], float]]
    ) -> list[str | Exception]:
        self.round_trips += 1
        outcomes: list[str | Exception] = []
        for queue, body, delay_s in messages:
            if queue in self.down:
                outcomes.append(QueueDown(queue))
            else:
                self.published.append((queue, body, delay_s))
                outcomes.append(f"msg-{len(self.published)}")
        return outcomes


class BrokenDatabase(InMemoryDatabase):
    """Every unit of work fails on entry, as a database that went away."""

    def unit_of_work(self) -> Any:
        raise ConnectionError("database gone")


def enqueue(database: InMemoryDatabase, *queues: str) -> list[OutboxMessage]:
    with database.unit_of_work() as uow:
        messages = [
            enqueue_in(uow, queue, {"n": n}, clock=lambda: T0) for n, queue in enumerate(queues)
        ]
        uow.commit()
    return messages


def test_a_batch_queue_is_recognised_and_a_plain_one_is_not() -> None:
    assert isinstance(BatchQueue(), BatchPublisher)
    assert not isinstance(RecordingQueue(), BatchPublisher)


def test_the_relay_publishes_a_batch_in_one_round_trip_and_marks_it_in_one_transaction(
    database: InMemoryDatabase, outbox: FakeOutboxRepository
) -> None:
    enqueue(database, *["steps-prepare"] * 5)
    queue, commits = BatchQueue(), database.commits

    report = relay(database=database, queue=queue, clock=lambda: LATER)

    assert (report.published, report.failed, report.backlog) == (5, 0, 0)
    assert queue.round_trips == 1
    assert [body["n"] for _, body, _ in queue.published] == [0, 1, 2, 3, 4]
    assert database.commits == commits + 1
    assert {(row.published_at, row.attempts) for row in outbox.rows.values()} == {(LATER, 1)}


def test_one_failed_publish_of_a_batch_leaves_only_it_for_the_next_run(
    database: InMemoryDatabase, outbox: FakeOutboxRepository
) -> None:
    enqueue(database, "steps-prepare", "steps-generate", "steps-prepare")
    queue = BatchQueue()
    queue.down.add("steps-generate")

    first = relay(database=database, queue=queue, clock=lambda: LATER)

    assert (first.published, first.failed, first.backlog) == (2, 1, 1)
    (waiting,) = outbox.unpublished()
    assert (waiting.queue, waiting.attempts, waiting.last_error) == (
        "steps-generate",
        1,
        "QueueDown",
    )

    queue.down.clear()
    second = relay(database=database, queue=queue, clock=lambda: LATER)

    assert (second.published, second.failed, second.backlog) == (1, 0, 0)
    # every message went out exactly once
    assert sorted(body["n"] for _, body, _ in queue.published) == [0, 1, 2]
    assert outbox.unpublished() == []


def test_committed_messages_are_published_together_and_marked_in_one_transaction(
    database: InMemoryDatabase, outbox: FakeOutboxRepository
) -> None:
    messages = enqueue(database, "steps-prepare", "steps-store")
    queue, commits = BatchQueue(), database.commits

    count = publish_committed(database=database, queue=queue, messages=messages)

    assert count == 2 and queue.round_trips == 1
    assert database.commits == commits + 1
    assert outbox.unpublished() == []


def test_deferred_marks_wait_for_the_end_of_the_batch_then_go_in_one_transaction(
    database: InMemoryDatabase, outbox: FakeOutboxRepository
) -> None:
    marks, queue = DeferredMarks(max_age_s=60), RecordingQueue()
    first, second = enqueue(database, "steps-prepare", "steps-generate")
    commits = database.commits

    for message in (first, second):
        publish_committed(database=database, queue=queue, messages=[message], marks=marks)

    assert len(queue.published) == 2
    assert len(outbox.unpublished()) == 2 and marks.pending == [first.id, second.id]
    assert database.commits == commits

    assert marks.flush(database=database, clock=lambda: LATER) == 2

    assert database.commits == commits + 1
    assert outbox.unpublished() == [] and marks.pending == []
    assert marks.flush(database=database) == 0  # nothing left: no transaction
    assert database.commits == commits + 1


def test_deferred_marks_older_than_their_age_are_written_at_once(
    database: InMemoryDatabase, outbox: FakeOutboxRepository
) -> None:
    marks = DeferredMarks(max_age_s=0)
    messages = enqueue(database, "steps-prepare")

    publish_committed(database=database, queue=RecordingQueue(), messages=messages, marks=marks)

    assert outbox.unpublished() == [] and marks.pending == []


def test_a_failed_publish_is_not_marked_later_either(
    database: InMemoryDatabase, outbox: FakeOutboxRepository
) -> None:
    marks, queue = DeferredMarks(max_age_s=60), RecordingQueue()
    queue.down.add("steps-prepare")
    messages = enqueue(database, "steps-prepare")

    assert publish_committed(database=database, queue=queue, messages=messages, marks=marks) == 0
    marks.flush(database=database)

    assert marks.pending == [] and len(outbox.unpublished()) == 1


def test_a_mark_that_never_lands_means_one_more_delivery_by_the_relay(
    database: InMemoryDatabase, outbox: FakeOutboxRepository
) -> None:
    marks, queue = DeferredMarks(max_age_s=60), RecordingQueue()
    messages = enqueue(database, "steps-prepare")
    publish_committed(database=database, queue=queue, messages=messages, marks=marks)

    # the database is gone when the batch ends: the mark is lost, nothing raises
    assert marks.flush(database=BrokenDatabase({})) == 0
    assert marks.pending == [] and len(outbox.unpublished()) == 1

    report = relay(database=database, queue=queue, clock=lambda: LATER)

    assert report.published == 1
    assert [body for _, body, _ in queue.published] == [{"n": 0}, {"n": 0}]
    assert outbox.unpublished() == []


def test_each_thread_keeps_its_own_pending_marks(database: InMemoryDatabase) -> None:
    marks = DeferredMarks(max_age_s=60)
    (message,) = enqueue(database, "steps-prepare")
    seen: list[list[int]] = []

    def other_thread() -> None:
        seen.append(marks.pending)

    publish_committed(database=database, queue=RecordingQueue(), messages=[message], marks=marks)
    thread = threading.Thread(target=other_thread)
    thread.start()
    thread.join()

    assert seen == [[]]
    assert marks.pending == [message.id]
