"""Helpers of the task tests: the tasks function's client, ready uploads made without the
storage round trip (tests/integration/uploads/test_uploads.py covers that), inputs per feature."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

from fastapi.testclient import TestClient

from retouch.core.db import get_database
from retouch.core.ids import new_public_id
from retouch.core.redis import get_redis
from retouch.core.time import to_db, utc_now
from retouch.notify import task_channel
from retouch.queue.redis_streams import stream_key
from retouch.storage import upload_key
from tests.conftest import load_function

QUEUE = "steps-prepare"


@cache
def tasks_app() -> Any:
    return load_function("functions/http/tasks/app.py").app


def new_upload(owner: str, *, status: str = "ready") -> str:
    """An upload row of user `owner` (public id) in `status`; its public id."""
    public_id = new_public_id("upl")
    with get_database().unit_of_work() as uow:
        uow.execute(
            "INSERT INTO uploads (public_id, user_id, object_key, content_type, declared_size, "
            "status, width, height, actual_size) SELECT %s, id, %s, 'image/png', 100, %s, 8, 8, "
            "100 FROM users WHERE public_id = %s",
            (public_id, upload_key(user_id=owner, upload_id=public_id), status, owner),
        )
        uow.commit()
    return public_id


def inputs_for(feature: str, owner: str) -> dict[str, Any]:
    """Valid inputs of a seeded feature, naming fresh ready uploads of `owner`."""
    image = new_upload(owner)
    return {
        "cutout": {"image": image},
        "eraser": {"image": image, "mask": new_upload(owner)},
        "outfit": {"image": image, "garment": new_upload(owner), "garment_type": "upper"},
        "faceswap": {"image": image, "face": new_upload(owner)},
        "outpaint": {"image": image, "ratio": "16:9"},
    }[feature]


def quota(owner: str) -> dict[str, int]:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT q.balance, q.reserved FROM quota_accounts q JOIN users u ON u.id = q.user_id "
            "WHERE u.public_id = %s",
            (owner,),
        )
    assert row is not None
    return {"balance": int(row["balance"]), "reserved": int(row["reserved"])}


def user_internal_id(owner: str) -> int:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one("SELECT id FROM users WHERE public_id = %s", (owner,))
    assert row is not None
    return int(row["id"])


def task_count(owner: str) -> int:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM tasks t JOIN users u ON u.id = t.user_id "
            "WHERE u.public_id = %s",
            (owner,),
        )
    assert row is not None
    return int(row["n"])


def finish(task_id: str, status: str, *, output_keys: tuple[str, ...] = ()) -> None:
    """Move a task to a terminal status as the pipeline will (the next issue builds it)."""
    output = None
    if output_keys:
        images = ",".join(f'{{"key":"{key}","width":4,"height":3}}' for key in output_keys)
        output = f'{{"images":[{images}]}}'
    with get_database().unit_of_work() as uow:
        uow.execute(
            "UPDATE tasks SET status = %s, output = %s, finished_at = %s, "
            "revision = revision + 1 WHERE public_id = %s",
            (status, output, to_db(utc_now()), task_id),
        )
        uow.commit()


def set_created_at(task_id: str, moment: datetime) -> None:
    with get_database().unit_of_work() as uow:
        uow.execute(
            "UPDATE tasks SET created_at = %s WHERE public_id = %s", (to_db(moment), task_id)
        )
        uow.commit()


def queued_task_ids() -> list[str]:
    """Task ids of the messages on the first step's queue (read without consuming them)."""
    entries: list[Any] = get_redis().xrange(stream_key(QUEUE)) or []
    return [json.loads(fields["body"])["task_id"] for _, fields in entries]


def outbox_rows(task_id: str) -> list[dict[str, Any]]:
    with get_database().unit_of_work() as uow:
        return uow.fetch_all(
            "SELECT queue_name, body, published_at FROM outbox "
            "WHERE JSON_UNQUOTE(JSON_EXTRACT(body, '$.task_id')) = %s",
            (task_id,),
        )


def when_stream_listens(task_id: str, action: Callable[[], object]) -> threading.Thread:
    """A started thread that runs `action` once the task's event stream listens (its Redis
    channel has a subscriber, PUBSUB NUMSUB), so a change it makes reaches an open stream
    whether or not the test client streams the body (Starlette's TestClient buffers it
    before 1.8, the last release for CPython 3.10 being 1.7)."""

    def run() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            [(_, listeners)] = get_redis().pubsub_numsub(task_channel(task_id))
            if listeners:
                break
            time.sleep(0.02)
        action()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def burst(headers: dict[str, str], bodies: list[dict[str, Any]]) -> list[Any]:
    """Every body sent to `POST /v1/tasks` at once, each from its own client (its own
    connection); the answers in the order they came."""
    barrier = threading.Barrier(len(bodies))
    answers: list[Any] = []

    def send(body: dict[str, Any]) -> None:
        with TestClient(tasks_app()) as own:
            barrier.wait()
            answers.append(own.post("/v1/tasks", json=body, headers=headers))

    threads = [threading.Thread(target=send, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers
