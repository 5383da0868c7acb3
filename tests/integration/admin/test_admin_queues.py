"""`GET /v1/admin/queues` against the real admin function and Redis: every step queue's depth
through the queue port, a dead letter counted without being received (it is still there to
redrive), operators only, and a backend that cannot tell answered with a problem."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from retouch.admin.schemas import STEP_QUEUES
from retouch.bootstrap.clients import reset_clients
from retouch.queue.factory import get_queue
from tests.conftest import Stack
from tests.integration.admin_support import admin_client, dead_letter, empty_queue
from tests.integration.identity_support import new_account
from tests.integration.tencent_support import FakeTencentCloud, fake_tencent_cloud

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


def queues_on_cmq(
    client: Any, headers: Any, fake: FakeTencentCloud, monkeypatch: pytest.MonkeyPatch
) -> Any:
    """`GET /v1/admin/queues` with the cmq backend (prefix `q-`) on the fake TDMQ API, called
    with the keys `AKIDtest` / `test-secret-key`."""
    with fake_tencent_cloud(fake) as cloud:
        monkeypatch.setenv("RETOUCH_QUEUE_BACKEND", "cmq")
        monkeypatch.setenv("RETOUCH_QUEUE_NAME_PREFIX", "q-")
        monkeypatch.setenv("RETOUCH_QUEUE_TDMQ_REGION", "ap-guangzhou")
        monkeypatch.setenv("RETOUCH_QUEUE_TDMQ_ENDPOINT", cloud.endpoint)
        monkeypatch.setenv("TENCENTCLOUD_SECRETID", "AKIDtest")
        monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "test-secret-key")
        reset_clients()
        try:
            return client.get("/v1/admin/queues", headers=headers)
        finally:
            monkeypatch.undo()
            reset_clients()


def test_a_backend_that_fails_to_answer_is_a_503_problem(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the cmq backend, whose TDMQ API refuses the call (a key it does not know)
    _, operator = new_account("operator")
    fake = FakeTencentCloud("AKIDother", "other-key", queues=set())

    response = queues_on_cmq(client, operator, fake, monkeypatch)

    # THEN the operator gets a 503 problem, not a 500
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"


def test_the_cmq_backend_answers_tdmq_s_counts(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the cmq backend's four step queues on the fake TDMQ API, one with 3 waiting
    _, operator = new_account("operator")
    fake = FakeTencentCloud("AKIDtest", "test-secret-key", queues=set())
    fake.queues.update(f"q-{name}" for name in STEP_QUEUES)
    fake.details["q-steps-store"] = {"ActiveMsgNum": 2, "InactiveMsgNum": 1}

    response = queues_on_cmq(client, operator, fake, monkeypatch)

    assert response.status_code == 200, response.text
    waiting = {q["queue"]: (q["waiting"], q["dead"]) for q in response.json()["queues"]}
    assert waiting["steps-store"] == (3, 0)
    assert waiting["steps-prepare"] == (0, 0)
