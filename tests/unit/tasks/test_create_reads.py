"""Task creation's one read and its transaction (`retouch.tasks.creation`, `service`) over the
fakes: what is judged before the transaction is judged on fresh data every time (a new form
version, a feature switched off), uploads are checked however many the inputs name, a free
feature still counts the plan's unfinished tasks, and the plan limit is judged before the
credits, as it was when the plan was read first."""

from __future__ import annotations

import pytest

from retouch.catalog.service import add_form_version
from retouch.core.errors import ValidationFailed
from retouch.quota.errors import QuotaExceeded
from retouch.tasks.creation import MAX_CANDIDATES
from retouch.tasks.errors import FeatureUnavailable, PlanLimitReached, UploadsUnusable
from tests.catalog_support import seed_feature
from tests.fakes.world import task_world
from tests.unit.task_support import ALICE, BOB, FREE, Shop

MANY = MAX_CANDIDATES + 1


def _upload_form(fields: int) -> dict[str, object]:
    """A closed form of `fields` required upload fields, `f0` … ."""
    names = [f"f{n}" for n in range(fields)]
    field = {"type": "string", "maxLength": 26, "x-upload": True, "title": "Photo"}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": {name: dict(field) for name in names},
        "required": names,
    }


def _with_form(shop: Shop, document: dict[str, object]) -> None:
    version = shop.world.forms.add(feature_key="cutout", document=document, created_by=None)
    shop.world.features.set_current("cutout", kind="form", version=version)


def test_more_uploads_than_one_read_asks_for_are_still_each_checked() -> None:
    # GIVEN a form of more upload fields than the creation's read names up front
    shop = Shop.open()
    _with_form(shop, _upload_form(MANY))
    inputs = {f"f{n}": shop.upload(ALICE) for n in range(MANY)}

    # WHEN one of them is BOB's, THEN that field is refused and nothing is written
    with pytest.raises(UploadsUnusable) as refused:
        shop.create(inputs={**inputs, "f7": shop.upload(BOB)})
    assert [error.field for error in refused.value.errors] == ["inputs.f7"]
    assert shop.world.tasks.tasks == {}

    # AND all of them ALICE's and ready: the task is created
    assert shop.create(inputs=inputs).status == "queued"


def test_an_upload_that_is_not_ready_is_refused_with_few_uploads_too() -> None:
    shop = Shop.open()
    pending = shop.upload(ALICE, status="pending")

    with pytest.raises(UploadsUnusable):
        shop.create(inputs={"image": pending})

    assert shop.world.tasks.tasks == {}
    assert shop.balance(ALICE) == (10, 0)


def test_a_new_form_version_applies_to_the_next_creation() -> None:
    # GIVEN a task created with form version 1, then a version 2 that needs one more field
    shop = Shop.open()
    shop.create()
    form = seed_feature("cutout").form
    stricter = {**form, "required": [*form["required"], "refine_edges"]}
    add_form_version(
        database=shop.database,
        feature_key="cutout",
        json_schema=stricter,
        created_by=None,
        make_current=True,
    )

    # THEN the same inputs are refused by version 2, and accepted with the new field
    with pytest.raises(ValidationFailed) as refused:
        shop.create()
    assert [error.field for error in refused.value.errors] == ["inputs.refine_edges"]
    created = shop.create(inputs={"image": shop.upload(ALICE), "refine_edges": True})
    assert shop.task(created.id).form_version == 2


def test_a_feature_switched_off_after_a_creation_refuses_the_next() -> None:
    shop = Shop.open()
    shop.create()

    shop.world.features.set_terms("cutout", cost=1, enabled=False)

    with pytest.raises(FeatureUnavailable):
        shop.create()
    assert len(shop.world.tasks.tasks) == 1


def test_a_free_feature_still_counts_the_plans_unfinished_tasks() -> None:
    shop = Shop(world=task_world(plans=[FREE.model_copy(update={"max_concurrent_tasks": 1})]))
    shop.add_feature(cost=0)
    shop.open_account(ALICE)
    shop.create()

    with pytest.raises(PlanLimitReached):
        shop.create()

    assert len(shop.world.tasks.tasks) == 1
    assert shop.balance(ALICE) == (10, 0)


def test_at_the_plans_limit_and_short_of_credits_the_answer_is_the_plan_limit() -> None:
    # GIVEN one unfinished task (the limit) and a price above what is left
    shop = Shop(world=task_world(plans=[FREE.model_copy(update={"max_concurrent_tasks": 1})]))
    shop.add_feature(cost=6)
    shop.open_account(ALICE)
    shop.create()

    # THEN the plan limit is what the caller hears (it was judged before the credits)
    with pytest.raises(PlanLimitReached):
        shop.create()
    assert shop.balance(ALICE) == (4, 6)


def test_short_of_credits_under_the_plans_limit_is_quota_exceeded_and_writes_nothing() -> None:
    shop = Shop(world=task_world(plans=[FREE.model_copy(update={"max_concurrent_tasks": 5})]))
    shop.add_feature(cost=6)
    shop.open_account(ALICE)
    shop.create()

    with pytest.raises(QuotaExceeded):
        shop.create()

    assert len(shop.world.tasks.tasks) == 1
    assert len(shop.world.reservations.reservations) == 1
    assert shop.balance(ALICE) == (4, 6)
    assert shop.world.outbox.unpublished() == []
