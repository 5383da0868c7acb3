"""The owner's cancel and delete (`retouch.tasks.cancel`) over the fakes: an unfinished task
ends `canceled` with its credits returned and its followers told; a running one also gets its
vendor job stopped; a finished one cannot be canceled; delete hides the task for good and
removes its stored images; another user's task is absent."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from retouch.core.identity import Principal
from retouch.storage import output_key
from retouch.tasks.cancel import cancel_task, delete_task
from retouch.tasks.errors import TaskNotCancelable, TaskNotFound
from retouch.tasks.lifecycle import Outcome, finish_task
from retouch.tasks.records import StoredImage
from retouch.tasks.schemas import TaskRead
from tests.fakes.redis import as_client
from tests.unit.task_support import ALICE, BOB, COST, SETTINGS, Shop


def cancel(shop: Shop, task_id: str, caller: Principal = ALICE) -> TaskRead:
    return cancel_task(
        database=shop.database,
        storage=shop.storage,
        redis=as_client(shop.redis),
        queue=shop.queue,
        settings=SETTINGS,
        principal=caller,
        task_id=task_id,
        language="en",
        clock=shop.clock,
    )


def delete(shop: Shop, task_id: str, caller: Principal = ALICE) -> None:
    delete_task(
        database=shop.database,
        storage=shop.storage,
        redis=as_client(shop.redis),
        queue=shop.queue,
        principal=caller,
        task_id=task_id,
        clock=shop.clock,
    )


def end(shop: Shop, task_id: str, outcome: Outcome) -> None:
    finish_task(
        database=shop.database,
        redis=as_client(shop.redis),
        task_id=task_id,
        outcome=outcome,
        clock=shop.clock,
    )


def succeeded_with_images(shop: Shop) -> tuple[str, list[str]]:
    """A task that succeeded with two images kept in storage: its id and their keys."""
    task_id = shop.create().id
    keys = [output_key(task_id=task_id, name=f"{n}.png") for n in range(2)]
    for key in keys:
        shop.storage.put(key, b"png", "image/png")
    images = tuple(StoredImage(key, 4, 3) for key in keys)
    end(shop, task_id, Outcome("succeeded", images=images))
    return task_id, keys


def statuses(shop: Shop, task_id: str) -> list[str]:
    channel = f"task:{{{task_id}}}:events"
    return [json.loads(m)["status"] for c, m in shop.redis.published if c == channel]


def sent_steps(shop: Shop) -> list[str]:
    return [body["step"] for _, body, _ in shop.queue.published]


def test_canceling_a_queued_task_returns_its_credits_and_tells_its_followers() -> None:
    shop = Shop.open()
    task_id = shop.create().id

    answer = cancel(shop, task_id)

    assert answer.status == "canceled" and answer.finished_at == shop.clock.now
    assert shop.task(task_id).status == "canceled"
    assert shop.balance(ALICE) == (10, 0)
    assert statuses(shop, task_id) == ["canceled"]
    assert sent_steps(shop) == ["prepare"]  # nothing runs at a vendor: no stop message


def test_canceling_a_running_task_also_stops_its_vendor_job() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    shop.world.tasks.start(task_id, now=shop.clock.now)

    cancel(shop, task_id)

    assert shop.task(task_id).status == "canceled"
    assert shop.balance(ALICE) == (10, 0)
    assert shop.queue.published[-1][:2] == (
        "steps-generate",
        {"task_id": task_id, "step": "generate", "attempt": 1},
    )


def test_canceling_a_canceled_task_answers_it_again_and_moves_nothing() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    first = cancel(shop, task_id)

    again = cancel(shop, task_id)

    assert again == first
    assert shop.balance(ALICE) == (10, 0)
    assert statuses(shop, task_id) == ["canceled", "canceled"]


@pytest.mark.parametrize(
    "outcome",
    [Outcome("succeeded"), Outcome("failed", error_code="TASK_TIMEOUT")],
    ids=["succeeded", "failed"],
)
def test_a_finished_task_cannot_be_canceled(outcome: Outcome) -> None:
    shop = Shop.open()
    task_id = shop.create().id
    end(shop, task_id, outcome)
    before = shop.task(task_id), shop.balance(ALICE)

    with pytest.raises(TaskNotCancelable):
        cancel(shop, task_id)

    assert (shop.task(task_id), shop.balance(ALICE)) == before


@pytest.mark.parametrize(
    "target",
    [
        pytest.param(lambda shop: shop.create(BOB).id, id="another-users"),
        pytest.param(lambda shop: "tsk_" + "n" * 22, id="unknown"),
        pytest.param(lambda shop: "not-a-task-id", id="malformed"),
    ],
)
@pytest.mark.parametrize("action", [cancel, delete], ids=["cancel", "delete"])
def test_a_task_that_is_not_the_callers_is_not_found(
    target: Callable[[Shop], str], action: Callable[[Shop, str], object]
) -> None:
    shop = Shop.open()
    task_id = target(shop)
    before = dict(shop.world.tasks.tasks), shop.balance(BOB)

    with pytest.raises(TaskNotFound):
        action(shop, task_id)

    assert (dict(shop.world.tasks.tasks), shop.balance(BOB)) == before


def test_delete_hides_a_finished_task_and_removes_its_images() -> None:
    shop = Shop.open()
    task_id, keys = succeeded_with_images(shop)

    delete(shop, task_id)

    assert shop.task(task_id).hidden
    assert shop.storage.keys("outputs/") == []
    assert shop.storage.deleted == keys
    assert shop.balance(ALICE) == (10 - COST, 0)  # the charge stands


def test_delete_cancels_an_unfinished_task_first_and_returns_its_credits() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    shop.world.tasks.start(task_id, now=shop.clock.now)

    delete(shop, task_id)

    task = shop.task(task_id)
    assert (task.status, task.hidden) == ("canceled", True)
    assert shop.balance(ALICE) == (10, 0)
    assert statuses(shop, task_id) == ["canceled"]
    assert sent_steps(shop)[-1] == "generate"


def test_a_deleted_task_is_gone_for_its_owner() -> None:
    shop = Shop.open()
    task_id, _ = succeeded_with_images(shop)
    delete(shop, task_id)

    with pytest.raises(TaskNotFound):
        cancel(shop, task_id)
    with pytest.raises(TaskNotFound):
        delete(shop, task_id)


def test_an_image_the_storage_fails_to_delete_does_not_undo_the_delete() -> None:
    shop = Shop.open()
    task_id, _ = succeeded_with_images(shop)

    def broken(key: str) -> None:
        raise OSError("storage down")

    shop.storage.delete = broken  # type: ignore[method-assign]
    delete(shop, task_id)

    assert shop.task(task_id).hidden
