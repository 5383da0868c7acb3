"""The caller's plan limits at task creation (`retouch.tasks.limits`) over the fakes: the
plan's number of unfinished tasks and its largest input are enforced, each
refusal leaving nothing behind, and the plan judged is the one the request was read with."""

from __future__ import annotations

from datetime import timedelta

import pytest

from retouch.quota.repository import MembershipRepository
from retouch.quota.reservations import charge
from retouch.quota.service import get_quota
from retouch.tasks.errors import PlanLimitReached
from tests.fakes.identity import principal
from tests.fakes.world import task_world
from tests.unit.task_support import ALICE, BOB, FREE, NOW, Shop

PRO = FREE.model_copy(update={"code": "pro", "name": "Pro", "monthly_credits": 100, "priority": 10})


def shop_with(*, cost: int = 1, **limits: object) -> Shop:
    """ALICE and BOB on the free plan with `limits`, 10 credits each; pro has none."""
    shop = Shop(world=task_world(plans=[FREE.model_copy(update=limits), PRO]))
    shop.add_feature(cost=cost, plans=("free", "pro"))
    for user in (ALICE, BOB):
        shop.open_account(user)
    return shop


def test_tasks_beyond_the_plans_concurrency_are_refused_and_write_nothing() -> None:
    shop = shop_with(max_concurrent_tasks=2)
    shop.create()
    shop.create()
    image = shop.upload(ALICE)

    with pytest.raises(PlanLimitReached) as refused:
        shop.create(inputs={"image": image})

    assert refused.value.context == {"limit": 2}
    assert len(shop.world.tasks.tasks) == 2
    assert len(shop.world.reservations.reservations) == 2
    assert shop.balance(ALICE) == (8, 2)


def test_a_finished_task_frees_its_place_and_other_users_are_not_counted() -> None:
    shop = shop_with(max_concurrent_tasks=1)
    first = shop.create()
    shop.create(BOB)  # BOB's own place
    with pytest.raises(PlanLimitReached):
        shop.create()

    assert shop.world.tasks.fail(first.id, code="GENERATION_FAILED", detail=None, now=NOW)

    assert shop.create().status == "queued"


@pytest.mark.parametrize(("limit", "allowed"), [(47, False), (48, True)])
def test_an_input_larger_than_the_plan_allows_is_refused(limit: int, allowed: bool) -> None:
    shop = shop_with(max_input_pixels=limit)  # the uploads are 8 x 6 = 48 pixels

    if allowed:
        assert shop.create().status == "queued"
    else:
        with pytest.raises(PlanLimitReached) as refused:
            shop.create()
        assert refused.value.context == {"limit": limit}
        assert shop.world.tasks.tasks == {} and shop.balance(ALICE) == (10, 0)


def test_a_plan_expiring_during_creation_judges_by_the_plan_read_and_no_balance_goes_negative() -> (
    None
):
    # GIVEN ALICE held pro (no concurrency limit) until one second after NOW; free allows 1
    shop = shop_with(cost=4, max_concurrent_tasks=1)
    with shop.database.unit_of_work() as uow:
        uow.repository(MembershipRepository).add(
            user_id=1,
            plan_code="pro",
            starts_at=NOW - timedelta(days=1),
            expires_at=NOW + timedelta(seconds=1),
        )
        uow.commit()
    read_as_pro = principal(1, plan="pro")

    # WHEN her requests, read while pro was in force, create after it expired
    shop.clock.advance(2)
    tasks = [shop.create(read_as_pro), shop.create(read_as_pro)]

    # THEN both are judged by pro; a request read after the expiry is judged by free
    assert [task.status for task in tasks] == ["queued", "queued"]
    with pytest.raises(PlanLimitReached):
        shop.create(principal(1, plan="free"))
    # AND settling them, then a new period on the free plan, never takes the balance below 0
    for task in tasks:
        assert charge(database=shop.database, task_ref=task.id, clock=shop.clock)
    assert shop.balance(ALICE) == (2, 0)
    shop.clock.advance(timedelta(days=31).total_seconds())
    quota = get_quota(database=shop.database, user_id=1, clock=shop.clock)
    assert (quota.plan, quota.balance, quota.reserved) == ("free", 10, 0)
    ledger = [row for row in shop.world.ledger.lines if row.user_id == 1]
    assert sum(row.entry.amount for row in ledger) == 10
    assert min(row.entry.balance_after for row in ledger) >= 0
