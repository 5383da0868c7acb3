"""The engine's steps over the fakes, beyond the chain: prepare refusing an input, a busy
provider waiting for a slot, a canceled task's vendor job stopped, redelivered and foreign
messages changing nothing, a step past its deadline, and the in-process `local`
provider doing a real cutout."""

from __future__ import annotations

import dataclasses

import pytest

from retouch.images.inspection import inspect_image
from retouch.providers.local.provider import LocalProvider
from retouch.tasks.cancel import cancel_task
from tests.fakes.providers import PENDING, Answer, ScriptedProvider
from tests.fakes.redis import as_client
from tests.unit.image_support import png
from tests.unit.task_support import ALICE, COST, RESULT, SETTINGS, Shop


def vendor(*script: Answer, polls: tuple[Answer, ...] = ()) -> ScriptedProvider:
    return ScriptedProvider("vendor", script or (RESULT,), polls=polls)


def cancel(shop: Shop, task_id: str) -> None:
    cancel_task(
        database=shop.database,
        storage=shop.storage,
        redis=as_client(shop.redis),
        queue=shop.queue,
        settings=SETTINGS,
        principal=ALICE,
        task_id=task_id,
        language="en",
        clock=shop.clock,
    )


def test_prepare_fails_the_task_when_an_upload_is_no_longer_usable() -> None:
    shop = Shop.open()
    image = shop.upload(ALICE)
    task_id = shop.create(inputs={"image": image}).id
    upload = shop.world.uploads.get_by_public_id(image)
    assert upload is not None
    shop.world.uploads.uploads[upload.id] = dataclasses.replace(upload, status="rejected")
    provider = vendor()

    ran = shop.run_pipeline(provider)

    assert ran == ["prepare"] and provider.jobs == []
    task = shop.task(task_id)
    assert (task.status, task.error_code) == ("failed", "INPUT_UNPROCESSABLE")
    assert shop.balance(ALICE) == (10, 0)


def test_a_provider_at_its_concurrency_limit_is_asked_again_later_without_a_strike() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    provider = vendor()
    engine = shop.engine(provider)
    engine.context.providers.limits["vendor"] = 1  # type: ignore[attr-defined]
    assert (
        engine.context.guards.take_slot("vendor", "another-task:1", limit=1, hold_s=3600) == "taken"
    )

    ran = shop.run_pipeline(engine=engine, at_most=2)

    assert ran == ["prepare", "generate"] and provider.jobs == []
    queue, body, _ = shop.queue.published[-1]
    assert (queue, body["step"], body["attempt"]) == ("steps-generate", "generate", 1)
    row = shop.world.steps.get(task_id=shop.task(task_id).id, index=1)
    assert row is not None and (row.status, row.attempt, row.fallbacks) == ("running", 0, [])
    assert shop.redis.get("breaker:{vendor}:failures") is None
    assert shop.task(task_id).status == "running"


def test_canceling_a_task_waiting_at_a_vendor_cancels_the_vendor_job() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    provider = vendor(PENDING)
    engine = shop.engine(provider)
    shop.run_pipeline(engine=engine, at_most=2)  # prepare, generate: the job is submitted
    assert shop.redis.slots("vendor") == {f"{task_id}:1"}

    cancel(shop, task_id)
    shop.delivered = len(shop.queue.published) - 1  # the stop message, before any poll
    shop.run_pipeline(engine=engine, at_most=1)

    assert provider.canceled == ["vendor-job-1"]
    assert shop.redis.slots("vendor") == frozenset()
    assert shop.task(task_id).status == "canceled"
    assert shop.balance(ALICE) == (10, 0)


def test_redelivered_messages_change_nothing() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    provider = vendor()
    engine = shop.engine(provider)
    shop.run_pipeline(engine=engine)
    ended, balance = shop.task(task_id), shop.balance(ALICE)

    for _, body, _ in list(shop.queue.published):
        engine.handle(body)

    assert len(provider.jobs) == 1
    assert shop.task(task_id) == ended and shop.balance(ALICE) == balance
    assert shop.statuses(task_id) == ["running", "succeeded"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"task_id": "tsk_" + "n" * 22, "step": "prepare"}, id="no-such-task"),
        pytest.param({"task_id": "nope", "step": "prepare"}, id="malformed-id"),
        pytest.param({"task_id": "tsk_" + "n" * 22, "step": "teleport"}, id="unknown-step"),
        pytest.param({"task_id": "tsk_" + "n" * 22, "step": "finalize"}, id="no-outcome"),
    ],
)
def test_a_message_that_is_not_ours_is_dropped(body: dict[str, object]) -> None:
    shop = Shop.open()
    shop.create()
    before = dict(shop.world.tasks.tasks), dict(shop.world.steps.rows)

    shop.engine(vendor()).handle(body)

    assert (dict(shop.world.tasks.tasks), dict(shop.world.steps.rows)) == before


def test_a_job_pending_past_the_step_deadline_is_canceled_for_the_next_provider() -> None:
    shop = Shop.open(retries=0)
    task_id = shop.create().id
    slow, fast = vendor(PENDING), ScriptedProvider("backup", [RESULT])
    engine = shop.engine(slow, fast)
    shop.run_pipeline(engine=engine, at_most=2)
    shop.clock.advance(61)  # the generate step's timeout_s is 60

    shop.run_pipeline(engine=engine)

    assert slow.canceled == ["vendor-job-1"] and len(fast.jobs) == 1
    assert shop.task(task_id).status == "succeeded"


def test_the_local_provider_cuts_out_a_real_photo() -> None:
    shop = Shop.open(chain=("local",))
    task_id = shop.create(inputs={"image": shop.upload(ALICE, data=png(64, 48))}).id

    shop.run_pipeline(LocalProvider())

    task = shop.task(task_id)
    assert task.status == "succeeded", task.error_code
    header = inspect_image(shop.storage.get(task.images[0].key))
    assert header.content_type == "image/png" and (header.width, header.height) == (64, 48)
    assert shop.balance(ALICE) == (10 - COST, 0)
