"""The engine end to end over the fakes (tasks, steps, quota, outbox, memory storage, a fake
Redis): a created task runs prepare → generate → store → finalize with scripted providers,
and the provider chain's rules hold — retry, fall back, fail with a refund, fail at once on
a permanent error, send garbage to the next provider."""

from __future__ import annotations

from typing import Any

import pytest

from retouch.providers.port import (
    JobStatus,
    ProviderPermanent,
    ProviderRetryable,
    ProviderUnavailable,
)
from tests.fakes.providers import PENDING, Answer, ScriptedProvider
from tests.unit.task_support import ALICE, COST, PHOTO, RESULT, Shop

FULL_RUN = ["prepare", "generate", "store", "finalize"]


def vendor(*script: Answer, polls: tuple[Answer, ...] = ()) -> ScriptedProvider:
    return ScriptedProvider("vendor", script, polls=polls)


def backup(*script: Answer) -> ScriptedProvider:
    return ScriptedProvider("backup", script or (RESULT,))


def generate_state(shop: Shop, task_id: str) -> dict[str, Any]:
    """Who made the result, and the chain's record of the providers passed over."""
    row = shop.world.steps.get(task_id=shop.task(task_id).id, index=1)
    assert row is not None
    return {"provider": row.state.get("provider"), "fallbacks": row.fallbacks}


def test_a_task_runs_every_step_and_succeeds_with_its_image_kept() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    provider = vendor(RESULT)

    ran = shop.run_pipeline(provider, backup())

    assert ran == FULL_RUN
    task = shop.task(task_id)
    assert task.status == "succeeded" and task.started_at is not None
    (image,) = task.images
    assert (image.key, image.width, image.height) == (f"outputs/{task_id}/0.png", 16, 12)
    assert shop.storage.get(image.key) == RESULT
    assert shop.storage.get(f"work/{task_id}/in-image.png") == PHOTO
    assert shop.balance(ALICE) == (10 - COST, 0)  # charged
    assert shop.statuses(task_id) == ["running", "succeeded"]
    assert shop.redis.slots("vendor") == frozenset()


def test_the_provider_gets_the_prepared_inputs_and_a_token_for_the_attempt() -> None:
    shop = Shop.open()
    task_id = shop.create(inputs={"image": shop.upload(ALICE), "refine_edges": True}).id
    provider = vendor(RESULT)

    shop.run_pipeline(provider)

    (job,) = provider.jobs
    assert job.feature == "cutout" and job.params == {"refine_edges": True}
    assert job.image_urls["image"].startswith(f"memory://work/{task_id}/in-image.png")
    assert job.client_token == f"{task_id}:1:0:0"


def test_a_job_the_vendor_keeps_pending_is_polled_until_it_ends() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    provider = vendor(PENDING, polls=(PENDING, RESULT))

    ran = shop.run_pipeline(provider)

    assert ran == ["prepare", "generate", "generate", "generate", "store", "finalize"]
    assert provider.polled == ["vendor-job-1", "vendor-job-1"]
    assert shop.task(task_id).status == "succeeded"


def test_a_retryable_error_retries_then_falls_back_to_the_next_provider() -> None:
    shop = Shop.open(retries=1)
    task_id = shop.create().id
    first, second = vendor(ProviderRetryable("503")), backup(RESULT)

    shop.run_pipeline(first, second)

    assert len(first.jobs) == 2 and len(second.jobs) == 1  # one try and one retry, then next
    assert shop.task(task_id).status == "succeeded"
    state = generate_state(shop, task_id)
    assert state["provider"] == "backup"
    assert state["fallbacks"] == [
        {"provider": "vendor", "code": "ProviderRetryable", "detail": "503"}
    ]


def test_a_retry_that_succeeds_stays_with_the_same_provider() -> None:
    shop = Shop.open(retries=2)
    task_id = shop.create().id
    first, second = vendor(ProviderRetryable("503"), RESULT), backup()

    shop.run_pipeline(first, second)

    assert (len(first.jobs), len(second.jobs)) == (2, 0)
    assert generate_state(shop, task_id) == {"provider": "vendor", "fallbacks": []}
    assert first.jobs[1].client_token.endswith(":0:1")  # the second attempt at position 0


def test_an_unavailable_provider_is_not_retried() -> None:
    shop = Shop.open(retries=3)
    task_id = shop.create().id
    first, second = vendor(ProviderUnavailable("no account")), backup()

    shop.run_pipeline(first, second)

    assert (len(first.jobs), len(second.jobs)) == (1, 1)
    assert shop.task(task_id).status == "succeeded"


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(ProviderRetryable("503"), id="raised"),
        pytest.param(JobStatus("failed", error=ProviderRetryable("crashed")), id="job-failed"),
    ],
)
def test_when_every_provider_fails_the_task_fails_and_its_credits_come_back(
    failure: Answer,
) -> None:
    shop = Shop.open(retries=1)
    task_id = shop.create().id

    shop.run_pipeline(vendor(failure), backup(failure))

    task = shop.task(task_id)
    assert (task.status, task.error_code) == ("failed", "GENERATION_FAILED")
    assert shop.balance(ALICE) == (10, 0)
    reservation = shop.world.reservations.get(task_id)
    assert reservation is not None and reservation.status == "refunded"
    assert [f["provider"] for f in generate_state(shop, task_id)["fallbacks"]] == [
        "vendor",
        "backup",
    ]
    assert shop.statuses(task_id) == ["running", "failed"]


def test_a_permanent_error_fails_the_task_at_once_as_input_unprocessable() -> None:
    shop = Shop.open(retries=3)
    task_id = shop.create().id
    first, second = vendor(ProviderPermanent("face not found")), backup()

    ran = shop.run_pipeline(first, second)

    assert ran == ["prepare", "generate"]
    assert (len(first.jobs), len(second.jobs)) == (1, 0)
    task = shop.task(task_id)
    assert (task.status, task.error_code) == ("failed", "INPUT_UNPROCESSABLE")
    assert shop.balance(ALICE) == (10, 0)


@pytest.mark.parametrize(
    "result",
    [
        pytest.param(b"this is not an image", id="garbage-bytes"),
        pytest.param(JobStatus("succeeded"), id="no-image"),
    ],
)
def test_a_garbage_result_sends_generate_to_the_next_provider(result: Answer) -> None:
    shop = Shop.open()
    task_id = shop.create().id
    first, second = vendor(result), backup(RESULT)

    ran = shop.run_pipeline(first, second)

    assert ran == ["prepare", "generate", "store", "generate", "store", "finalize"]
    assert (len(first.jobs), len(second.jobs)) == (1, 1)
    task = shop.task(task_id)
    assert task.status == "succeeded" and shop.storage.get(task.images[0].key) == RESULT
    (fallback,) = generate_state(shop, task_id)["fallbacks"]
    assert fallback["provider"] == "vendor" and fallback["code"] == "BAD_RESULT"


def test_garbage_from_the_last_provider_fails_the_task_with_a_refund() -> None:
    shop = Shop.open(chain=("vendor",))
    task_id = shop.create().id

    shop.run_pipeline(vendor(b"garbage"))

    task = shop.task(task_id)
    assert (task.status, task.error_code) == ("failed", "GENERATION_FAILED")
    assert shop.balance(ALICE) == (10, 0)


@pytest.mark.parametrize("skip", ["breaker-open", "no-adapter"])
def test_a_provider_that_cannot_take_jobs_is_skipped_for_the_next(skip: str) -> None:
    shop = Shop.open()
    task_id = shop.create().id
    first, second = vendor(RESULT), backup(RESULT)
    if skip == "breaker-open":
        shop.redis.set("breaker:{vendor}:open", "1")
    providers = (first, second) if skip == "breaker-open" else (second,)

    shop.run_pipeline(*providers)

    assert (len(first.jobs), len(second.jobs)) == (0, 1)
    assert shop.task(task_id).status == "succeeded"
    (fallback,) = generate_state(shop, task_id)["fallbacks"]
    assert (fallback["provider"], fallback["code"]) == ("vendor", "UNAVAILABLE")


def test_an_open_breaker_takes_no_slot_and_the_next_provider_serves() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    first = vendor(RESULT)
    second = ScriptedProvider("backup", (PENDING,), polls=(RESULT,))  # the job waits a poll
    shop.redis.set("breaker:{vendor}:open", "1")
    engine = shop.engine(first, second)

    shop.run_pipeline(engine=engine, at_most=2)  # prepare, then generate: the job submitted

    assert shop.redis.slots("vendor") == frozenset()
    assert shop.redis.slots("backup") == frozenset({f"{task_id}:1"})
    shop.run_pipeline(engine=engine)
    assert (len(first.jobs), len(second.jobs)) == (0, 1)
    assert shop.task(task_id).status == "succeeded"
    assert shop.redis.slots("backup") == frozenset()


def test_every_breaker_open_fails_the_task_with_a_refund_and_no_slot_held() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    first, second = vendor(RESULT), backup(RESULT)
    for key in ("vendor", "backup"):
        shop.redis.set(f"breaker:{{{key}}}:open", "1")

    shop.run_pipeline(first, second)

    task = shop.task(task_id)
    assert (task.status, task.error_code) == ("failed", "GENERATION_FAILED")
    assert (len(first.jobs), len(second.jobs)) == (0, 0)
    assert shop.redis.slots("vendor") == shop.redis.slots("backup") == frozenset()
    assert [f["provider"] for f in generate_state(shop, task_id)["fallbacks"]] == [
        "vendor",
        "backup",
    ]
    assert shop.balance(ALICE) == (10, 0)


def test_failures_open_the_breaker_so_later_tasks_skip_the_provider() -> None:
    shop = Shop.open(retries=0, cost=1)
    first, second = vendor(ProviderRetryable("503")), backup(RESULT)
    engine = shop.engine(first, second, threshold=2)
    for _ in range(2):
        shop.create()
        shop.run_pipeline(engine=engine)

    shop.create()
    shop.run_pipeline(engine=engine)

    assert (len(first.jobs), len(second.jobs)) == (2, 3)
    assert shop.redis.get("breaker:{vendor}:open") == "1"


def test_the_pipeline_runs_on_while_redis_is_down() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    shop.redis.down = True

    shop.run_pipeline(vendor(RESULT))

    assert shop.task(task_id).status == "succeeded"
    assert shop.balance(ALICE) == (10 - COST, 0)
