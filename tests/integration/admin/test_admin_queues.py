"""`GET /v1/admin/queues` against the real admin function and Redis: every step queue's depth
through the queue port, a dead letter counted without being received (it is still there to
redrive), operators only, and a backend that cannot tell answered with a problem."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from retouch.bootstrap.clients import reset_clients
from retouch.queue.factory import get_queue
from tests.conftest import Stack
from tests.integration.admin_support import admin_client, dead_letter, empty_queue
from tests.integration.identity_support import new_account

pytestmark = pytest.mark.integration

QUEUE = "steps-store"


@pytest.fixture
def client(stack: Stack) -> Iterator[Any]:
    with admin_client() as test_client:
        yield test_client


def test_each_step_queue_has_its_depth_and_a_dead_letter_stays_put(client: Any) -> None:
    # GIVEN one dead letter and one message waiting on the store queue
    empty_queue(QUEUE)
    message_id = dead_letter(QUEUE, {"task_id": "tsk_depth", "step": "store"})
    get_queue().publish(QUEUE, {"task_id": "tsk_wait", "step": "store"})
    _, operator = new_account("operator")

    response = client.get("/v1/admin/queues", headers=operator)

    # THEN every step queue is listed, the store queue with 1 waiting and 1 dead, and the
    # dead letter was not received by the reading
    assert response.status_code == 200, response.text
    queues = {row["queue"]: row for row in response.json()["queues"]}
    assert set(queues) == {"steps-prepare", "steps-generate", "steps-store", "steps-finalize"}
    assert (queues[QUEUE]["waiting"], queues[QUEUE]["dead"]) == (1, 1)
    assert queues[QUEUE]["oldest_age_s"] >= 0
    [dead] = get_queue().list_dead(QUEUE)
    assert (dead.message.id, dead.message.delivery_count) == (message_id, 1)
    empty_queue(QUEUE)


def test_a_user_may_not_read_the_depths(client: Any) -> None:
    _, user = new_account("user")
    response = client.get("/v1/admin/queues", headers=user)
    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"


def test_a_backend_that_cannot_tell_is_a_409_problem(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, operator = new_account("operator")
    monkeypatch.setenv("RETOUCH_QUEUE_BACKEND", "cmq")
    monkeypatch.setenv("RETOUCH_QUEUE_TDMQ_REGION", "ap-guangzhou")
    reset_clients()
    try:
        response = client.get("/v1/admin/queues", headers=operator)
    finally:
        monkeypatch.undo()
        reset_clients()

    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "DEAD_LETTERS_UNAVAILABLE"
