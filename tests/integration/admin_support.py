"""Helpers of the admin route tests: the admin function's client, calling from an address of
the test's own, and a dead letter made the way the queue makes one."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from fastapi.testclient import TestClient

from retouch.core.redis import get_redis
from retouch.queue.redis_streams import dead_letter_key, delayed_key, stream_key
from tests.conftest import load_function
from tests.integration.identity_support import new_client_ip
from tests.integration.queue_support import VISIBILITY_S, new_queue


@cache
def admin_app() -> Any:
    return load_function("functions/http/admin/app.py").app


@contextmanager
def admin_client() -> Iterator[TestClient]:
    with TestClient(
        admin_app(), client=(new_client_ip(), 50000), raise_server_exceptions=False
    ) as client:
        yield client


def empty_queue(queue: str) -> None:
    """Forget the queue's stream, delayed messages and dead letters (a queue of this test's)."""
    key = stream_key(queue)
    get_redis().delete(key, f"{key}:cursor", delayed_key(queue), dead_letter_key(queue))


def dead_letter(queue: str, body: dict[str, Any]) -> str:
    """Publish `body` and let its only delivery run out unacknowledged: the next receive moves
    it to the dead letters, as a consumer that keeps crashing would. Its message id."""
    consumer = new_queue(max_deliveries=1)
    message_id = consumer.publish(queue, body)
    assert [d.message.id for d in consumer.receive(queue, wait_s=2)] == [message_id]
    time.sleep(VISIBILITY_S + 0.1)
    assert consumer.receive(queue) == []  # the expired delivery went to the dead letters
    return message_id
