"""Helpers of the queue tests: queues with short timeouts, unique names, Lambda-style handlers."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from retouch.bootstrap.clients import reset_clients
from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.core.time import to_db, utc_now
from retouch.queue import Delivery, QueueConfig, RedisStreamsQueue, process_batch

#: Half a second of visibility: redelivery tests wait about that long, not minutes.
VISIBILITY_S = 0.5


#: Settings a function needs besides its queue's; nothing here is connected to by queue tests.
FUNCTION_ENV = {
    "RETOUCH_DB_HOST": "127.0.0.1",
    "RETOUCH_DB_USER": "unused",
    "RETOUCH_DB_NAME": "unused",
    "RETOUCH_REDIS_URL": "redis://127.0.0.1:9/0",
}


@contextmanager
def queue_settings(monkeypatch: pytest.MonkeyPatch, variables: dict[str, str]) -> Iterator[None]:
    """The process's settings are a function's with these `RETOUCH_QUEUE_*` variables; cached
    clients are forgotten on the way in and out."""
    for variable, value in {**FUNCTION_ENV, **variables}.items():
        monkeypatch.setenv(variable, value)
    reset_clients()
    try:
        yield
    finally:
        reset_clients()


def new_queue(*, max_deliveries: int = 3, consumer: str | None = None) -> RedisStreamsQueue:
    config = QueueConfig(
        visibility_timeout_s=VISIBILITY_S, max_deliveries=max_deliveries, poll_interval_s=0.05
    )
    return RedisStreamsQueue(get_redis(), config, consumer=consumer)


def unique_queue() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def receive_within(
    queue: RedisStreamsQueue, name: str, seconds: float, *, max_messages: int = 10
) -> tuple[list[Delivery], float]:
    """The first non-empty receive within `seconds`, and how long it took."""
    started = time.monotonic()
    deliveries = queue.receive(name, max_messages=max_messages, wait_s=seconds)
    return deliveries, time.monotonic() - started


def failing_tasks_handler(
    failing: set[str], seen: list[dict[str, Any]]
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """A Lambda-style step handler (Powertools batch) that fails the records of `failing`
    task ids and records every body it saw."""

    def record_handler(record: SQSRecord) -> None:
        body = record.json_body
        seen.append(body)
        if body["task_id"] in failing:
            raise RuntimeError(f"step failed for {body['task_id']}")

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return process_batch(event, record_handler, context)

    return handler


def stored(queue: str, delay_s: int, n: int) -> int:
    """An outbox row written a minute ago, as a crash would leave it (`delay_s` unchecked:
    a row from before a rule, or written by hand)."""
    with get_database().unit_of_work() as uow:
        uow.execute(
            "INSERT INTO outbox (queue_name, body, delay_s, created_at) VALUES (%s, %s, %s, %s)",
            (queue, f'{{"n":{n}}}', delay_s, to_db(utc_now() - timedelta(minutes=1))),
        )
        outbox_id = uow.last_insert_id()
        uow.commit()
    return outbox_id
