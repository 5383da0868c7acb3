"""The reaper's use cases over the fakes: overdue tasks time out with their credits returned
(`tasks.lifecycle.time_out_overdue`), and a step whose message was lost is sent again, once
(`pipeline.handlers.redrive_stale_steps`)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from retouch.pipeline.handlers import redrive_stale_steps
from retouch.tasks.lifecycle import CANCELED, finish_task, time_out_overdue
from tests.fakes.redis import as_client
from tests.unit.task_support import ALICE, BOB, COST, SETTINGS, Shop

DEADLINE_S = SETTINGS.task_deadline_s
STALE_S = 300


def reap(shop: Shop, *, limit: int = 500) -> tuple[int, int]:
    return time_out_overdue(
        database=shop.database, redis=lambda: as_client(shop.redis), clock=shop.clock, limit=limit
    )


def redrive(shop: Shop) -> int:
    return redrive_stale_steps(
        database=shop.database, queue=lambda: shop.queue, stale_s=STALE_S, clock=shop.clock
    )


def test_a_task_past_its_deadline_times_out_and_gets_its_credits_back() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    shop.clock.advance(DEADLINE_S + 1)

    assert reap(shop) == (1, 1)

    task = shop.task(task_id)
    assert (task.status, task.error_code) == ("failed", "TASK_TIMEOUT")
    assert shop.balance(ALICE) == (10, 0)
    channel, message = shop.redis.published[-1]
    assert channel == f"task:{{{task_id}}}:events" and json.loads(message)["status"] == "failed"


@pytest.mark.parametrize("running", [False, True], ids=["queued", "running"])
def test_a_task_within_its_deadline_is_left_alone(running: bool) -> None:
    shop = Shop.open()
    task_id = shop.create().id
    if running:
        shop.world.tasks.start(task_id, now=shop.clock.now)
    shop.clock.advance(DEADLINE_S - 1)

    assert reap(shop) == (0, 0)
    assert shop.task(task_id).status == ("running" if running else "queued")


def test_a_task_that_ended_before_its_deadline_passed_stays_as_it_ended() -> None:
    shop = Shop.open()
    task_id = shop.create().id
    finish_task(
        database=shop.database,
        redis=as_client(shop.redis),
        task_id=task_id,
        outcome=CANCELED,
        clock=shop.clock,
    )
    shop.clock.advance(DEADLINE_S + 1)

    assert reap(shop) == (0, 0)
    assert shop.task(task_id).status == "canceled"
    assert shop.balance(ALICE) == (10, 0)


def test_each_run_times_out_at_most_its_batch_oldest_deadline_first() -> None:
    shop = Shop.open()
    first = shop.create(ALICE).id
    shop.clock.advance(1)
    second = shop.create(BOB).id
    shop.clock.advance(DEADLINE_S + 1)

    assert reap(shop, limit=1) == (1, 1)
    assert (shop.task(first).status, shop.task(second).status) == ("failed", "queued")
    assert reap(shop, limit=1) == (1, 1)
    assert shop.task(second).status == "failed"
    assert shop.balance(BOB) == (10, 0)


def test_a_task_that_fails_to_time_out_does_not_stop_the_others() -> None:
    shop = Shop.open()
    broken = shop.create(ALICE).id
    shop.clock.advance(1)
    healthy = shop.create(BOB).id
    shop.clock.advance(DEADLINE_S + 1)
    real_fail = shop.world.tasks.fail

    def fail(public_id: str, **changes: object) -> bool:
        if public_id == broken:
            raise RuntimeError("lost the connection")
        return real_fail(public_id, **changes)  # type: ignore[arg-type]

    shop.world.tasks.fail = fail  # type: ignore[method-assign]
    assert reap(shop) == (2, 1)

    assert shop.task(healthy).status == "failed"
    assert shop.task(broken).status == "queued"
    assert shop.balance(ALICE) == (10 - COST, COST)  # retried next run


def test_a_step_nobody_touched_for_too_long_is_sent_again_once() -> None:
    shop = Shop.open()
    task = shop.task(shop.create().id)
    shop.world.steps.begin(
        task_id=task.id, index=0, step="prepare", now=shop.clock.now, deadline_at=None
    )
    shop.clock.advance(STALE_S + 1)
    sent = len(shop.queue.published)

    assert redrive(shop) == 1
    assert redrive(shop) == 0

    assert shop.queue.published[sent:] == [
        (
            "steps-prepare",
            {"task_id": task.public_id, "step": "prepare", "attempt": 1, "index": 0},
            0,
        )
    ]


@pytest.mark.parametrize("case", ["fresh", "task-ended", "step-done"])
def test_a_step_that_is_fresh_or_settled_is_not_sent_again(case: str) -> None:
    shop = Shop.open()
    task = shop.task(shop.create().id)
    steps = shop.world.steps
    row = steps.begin(
        task_id=task.id, index=0, step="prepare", now=shop.clock.now, deadline_at=None
    )
    if case == "task-ended":
        shop.world.tasks.cancel(task.public_id, now=shop.clock.now)
    if case == "step-done":
        steps.succeed(row.id, state={}, now=shop.clock.now)
    shop.clock.advance(STALE_S - 1 if case == "fresh" else STALE_S + 1)

    assert redrive(shop) == 0


def test_a_run_with_nothing_to_end_or_redrive_never_asks_for_redis_or_the_queue() -> None:
    shop = Shop.open()
    shop.create()  # in time, its step fresh

    def refused() -> Any:
        raise AssertionError("a client was asked for with nothing to do")

    ended = time_out_overdue(database=shop.database, redis=refused, clock=shop.clock)
    sent = redrive_stale_steps(
        database=shop.database, queue=refused, stale_s=STALE_S, clock=shop.clock
    )

    assert (ended, sent) == ((0, 0), 0)
