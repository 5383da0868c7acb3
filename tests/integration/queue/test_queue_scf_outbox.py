"""The outbox with the scf backend, end to end: rows committed with their transaction are
invoked by the relay (an immediate one at once, a delayed one only once due), and each
invocation runs the real `prepare` step function's SCF entry point."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from retouch.bootstrap.clients import reset_clients
from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.queue import ScfInvokeQueue, get_queue
from retouch.queue.handlers import relay_outbox
from retouch.queue.outbox import enqueue_in
from retouch.queue.scf_ledger import DELAYED_KEY
from scripts.local.lambda_runtime import ROOT, load_function
from tests.conftest import Stack
from tests.integration.queue_scf_fake import SECRET_ID, SECRET_KEY, FakeScf, running_fake_scf

pytestmark = pytest.mark.integration

PREFIX = "retouch-e2e-"
FUNCTION = PREFIX + "steps-prepare"
MISSING_TASK = "tsk_NoSuchTaskForTheScfQueue00"


@pytest.fixture
def scf(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeScf]:
    """A function's settings with the scf backend pointed at the fake, relaying rows at once."""
    with running_fake_scf({FUNCTION}) as fake:
        for variable, value in {
            "RETOUCH_QUEUE_BACKEND": "scf",
            "RETOUCH_QUEUE_NAME_PREFIX": PREFIX,
            "RETOUCH_QUEUE_SCF_REGION": "ap-guangzhou",
            "RETOUCH_QUEUE_SCF_ENDPOINT": fake.url,
            "RETOUCH_OUTBOX_RELAY_MIN_AGE_S": "0",
            "TENCENTCLOUD_SECRETID": SECRET_ID,
            "TENCENTCLOUD_SECRETKEY": SECRET_KEY,
        }.items():
            monkeypatch.setenv(variable, value)
        reset_clients()
        get_redis().delete(DELAYED_KEY)
        try:
            yield fake
        finally:
            reset_clients()


def write_step_messages(delays: list[int]) -> None:
    with get_database().unit_of_work() as uow:
        for delay_s in delays:
            body = {"task_id": MISSING_TASK, "step": "prepare", "attempt": 1, "delay": delay_s}
            enqueue_in(uow, "steps-prepare", body, delay_s=delay_s)
        uow.commit()


def invoked_bodies(fake: FakeScf) -> list[str]:
    return [i.event["Records"][0]["RetouchQueue"]["msgBody"] for i in fake.invocations]


def test_the_relay_invokes_committed_rows_and_holds_a_delayed_one_until_due(
    scf: FakeScf, lambda_context: Any
) -> None:
    # GIVEN two committed outbox rows, one of them delayed by a second
    assert isinstance(get_queue(), ScfInvokeQueue)
    write_step_messages([0, 1])

    # WHEN the relay's timer runs
    first = relay_outbox()

    # THEN the immediate message is invoked at once and the delayed one is held
    assert first["published"] >= 2
    assert [body for body in invoked_bodies(scf) if MISSING_TASK in body] == [
        f'{{"task_id":"{MISSING_TASK}","step":"prepare","attempt":1,"delay":0}}'
    ]

    # AND the invocation runs the real prepare step's SCF entry point: a step of a task that
    # does not exist is dropped, nothing fails
    prepare = load_function(ROOT / "functions/steps/prepare/app.py")
    results = scf.deliver(lambda event, context: prepare.main_handler(event, lambda_context))
    assert results == [{"batchItemFailures": []}]

    # WHEN the relay runs again once the delay has passed
    time.sleep(1.05)
    second = relay_outbox()

    # THEN the delayed message is invoked, once
    assert second["released"] == 1
    assert [body for body in invoked_bodies(scf) if MISSING_TASK in body] == [
        f'{{"task_id":"{MISSING_TASK}","step":"prepare","attempt":1,"delay":1}}'
    ]
    assert relay_outbox()["released"] == 0
