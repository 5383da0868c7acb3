"""A task's credits from reservation to settlement over the real quota rules on fakes
(`create_task` reserves, `tasks.lifecycle.finish_task` ends): success charges what was
reserved, any other ending returns exactly that, and only the first ending moves credits."""

from __future__ import annotations

import json

import pytest

from retouch.tasks.lifecycle import CANCELED, TIMED_OUT, Outcome, finish_task
from retouch.tasks.records import StoredImage
from tests.fakes.redis import as_client
from tests.unit.task_support import ALICE, COST, Shop

SUCCESS = Outcome("succeeded", images=(StoredImage("outputs/x/0.png", 4, 3),), provider="vendor")
FAILURE = Outcome("failed", error_code="GENERATION_FAILED", error_detail="vendor said no")
ENDINGS = {"success": SUCCESS, "failure": FAILURE, "cancel": CANCELED, "timeout": TIMED_OUT}


def finish(shop: Shop, task_id: str, outcome: Outcome) -> bool:
    return finish_task(
        database=shop.database,
        redis=as_client(shop.redis),
        task_id=task_id,
        outcome=outcome,
        clock=shop.clock,
    )


def test_success_charges_the_reserved_credits() -> None:
    shop = Shop.open()
    task = shop.create()

    assert finish(shop, task.id, SUCCESS)

    reservation = shop.world.reservations.get(task.id)
    assert reservation is not None and reservation.status == "charged"
    assert shop.balance(ALICE) == (10 - COST, 0)
    kinds = [(e.kind, e.amount) for e in shop.world.ledger.entries(ALICE.user.id)]
    assert kinds[-2:] == [("reserve", -COST), ("charge", 0)]


@pytest.mark.parametrize("ending", ["failure", "cancel", "timeout"])
def test_any_other_ending_returns_exactly_the_reserved_credits(ending: str) -> None:
    shop = Shop.open()
    task = shop.create()

    assert finish(shop, task.id, ENDINGS[ending])

    reservation = shop.world.reservations.get(task.id)
    assert reservation is not None and reservation.status == "refunded"
    assert shop.balance(ALICE) == (10, 0)
    assert shop.world.ledger.entries(ALICE.user.id)[-1].amount == COST


@pytest.mark.parametrize("first", list(ENDINGS))
@pytest.mark.parametrize("second", list(ENDINGS))
def test_a_second_ending_changes_neither_the_task_nor_the_credits(first: str, second: str) -> None:
    shop = Shop.open()
    task = shop.create()
    finish(shop, task.id, ENDINGS[first])
    ended, balance = shop.task(task.id), shop.balance(ALICE)
    ledger = shop.world.ledger.entries(ALICE.user.id)

    again = finish(shop, task.id, ENDINGS[second])

    assert again is False
    assert shop.task(task.id) == ended
    assert shop.balance(ALICE) == balance
    assert shop.world.ledger.entries(ALICE.user.id) == ledger


def test_the_ending_is_announced_once_on_the_tasks_channel() -> None:
    shop = Shop.open()
    task = shop.create()

    finish(shop, task.id, FAILURE)
    finish(shop, task.id, SUCCESS)

    assert [(c, json.loads(m)) for c, m in shop.redis.published] == [
        (f"task:{{{task.id}}}:events", {"id": task.id, "status": "failed"})
    ]


def test_an_ending_survives_redis_being_down_only_the_announcement_is_lost() -> None:
    shop = Shop.open()
    task = shop.create()
    shop.redis.down = True

    assert finish(shop, task.id, SUCCESS)

    assert shop.task(task.id).status == "succeeded"
    assert shop.redis.published == []


def test_finishing_no_task_changes_nothing() -> None:
    shop = Shop.open()

    assert finish(shop, "tsk_" + "n" * 22, SUCCESS) is False
    assert shop.database.commits == 1  # its empty unit of work


def test_a_task_whose_reservation_is_gone_still_ends_and_moves_no_credits() -> None:
    shop = Shop.open()
    task = shop.create()
    shop.world.reservations.reservations.clear()  # a row written by hand, never reserved
    balance = shop.balance(ALICE)

    assert finish(shop, task.id, FAILURE)

    assert shop.task(task.id).status == "failed"
    assert shop.balance(ALICE) == balance
