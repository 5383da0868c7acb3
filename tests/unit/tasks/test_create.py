"""Creating a task (`retouch.tasks.service.create_task`) over the fakes: a valid request is a
queued task, its credits reserved and its first step in the outbox, in one commit; every
refusal leaves nothing behind; an Idempotency-Key makes a retry answer the first task."""

from __future__ import annotations

from typing import Any

import pytest

from retouch.core.errors import ValidationFailed
from retouch.idempotency import IdempotencyKeyReused
from retouch.quota.errors import QuotaExceeded
from retouch.tasks.errors import FeatureUnavailable, UploadsUnusable
from tests.fakes.identity import principal
from tests.unit.task_support import ALICE, BOB, COST, NOW, Shop


def nothing_written(shop: Shop, *, commits: int = 0) -> None:
    """No task, no reservation, no message, the credits untouched."""
    assert shop.world.tasks.tasks == {}
    assert shop.world.reservations.reservations == {}
    assert shop.world.outbox.rows == {}
    assert shop.queue.published == []
    assert shop.balance(ALICE) == (10, 0)
    assert shop.database.commits == commits


def test_a_valid_request_queues_a_task_with_its_credits_reserved() -> None:
    shop = Shop.open()
    image = shop.upload(ALICE)
    commits = shop.database.commits

    created = shop.create(ALICE, inputs={"image": image, "refine_edges": True})

    assert (created.status, created.feature, created.cost) == ("queued", "cutout", COST)
    assert created.inputs == {"image": image, "refine_edges": True}
    assert created.created_at == NOW and created.output is None
    stored = shop.task(created.id)
    assert (stored.user_id, stored.status, stored.form_version) == (1, "queued", 1)
    assert shop.world.tasks.deadlines[stored.id] is not None
    reservation = shop.world.reservations.get(created.id)
    assert reservation is not None and (reservation.amount, reservation.status) == (
        COST,
        "reserved",
    )
    assert shop.balance(ALICE) == (10 - COST, COST)
    # One commit writes it all; the publish that follows marks the message sent.
    assert shop.database.commits == commits + 2


def test_the_first_step_message_is_written_and_published() -> None:
    shop = Shop.open()

    created = shop.create()

    assert shop.queue.published == [
        ("steps-prepare", {"task_id": created.id, "step": "prepare", "attempt": 1}, 0)
    ]
    (row,) = shop.world.outbox.rows.values()
    assert row.queue == "steps-prepare" and row.published_at is not None


def test_a_message_the_queue_refused_stays_in_the_outbox_for_the_relay() -> None:
    shop = Shop.open()
    shop.queue.down.add("steps-prepare")

    created = shop.create()

    assert shop.task(created.id).status == "queued"
    (row,) = shop.world.outbox.unpublished()
    assert created.id in row.body


def test_a_free_feature_reserves_nothing() -> None:
    shop = Shop.open(cost=0)

    created = shop.create()

    assert created.cost == 0
    assert shop.world.reservations.reservations == {}
    assert shop.balance(ALICE) == (10, 0)


def test_an_unknown_feature_is_a_validation_failure_on_the_feature_field() -> None:
    shop = Shop.open()
    image = shop.upload(ALICE)

    with pytest.raises(ValidationFailed) as raised:
        shop.create(feature="teleport", inputs={"image": image})

    assert [error.type for error in raised.value.errors] == ["feature_unknown"]
    nothing_written(shop)


@pytest.mark.parametrize(
    ("feature", "caller"),
    [
        pytest.param({"enabled": False}, ALICE, id="switched-off"),
        pytest.param({"plans": ["pro"]}, ALICE, id="plan-not-allowed"),
        pytest.param({}, principal(1, plan="trial"), id="caller-on-another-plan"),
    ],
)
def test_a_feature_the_caller_may_not_use_now_is_unavailable(
    feature: dict[str, Any], caller: Any
) -> None:
    shop = Shop.open(**feature)
    image = shop.upload(ALICE)

    with pytest.raises(FeatureUnavailable):
        shop.create(caller, inputs={"image": image})

    nothing_written(shop)


def test_a_feature_without_a_pipeline_is_unavailable() -> None:
    shop = Shop.open()
    feature = shop.world.features.get("cutout")
    assert feature is not None
    shop.world.features.features["cutout"] = feature.model_copy(update={"pipeline_version": None})

    with pytest.raises(FeatureUnavailable, match="not configured"):
        shop.create()

    nothing_written(shop)


@pytest.mark.parametrize(
    "inputs",
    [
        pytest.param({"refine_edges": True}, id="required-upload-missing"),
        pytest.param({"image": "not-an-upload"}, id="not-an-upload-id"),
        pytest.param({"image": "upl_" + "a" * 22, "extra": 1}, id="unknown-field"),
        pytest.param({"image": "upl_" + "a" * 22, "refine_edges": "yes"}, id="wrong-type"),
    ],
)
def test_inputs_off_the_form_are_refused_with_nothing_reserved(inputs: dict[str, Any]) -> None:
    shop = Shop.open()

    with pytest.raises(ValidationFailed):
        shop.create(inputs=inputs)

    nothing_written(shop)


@pytest.mark.parametrize(
    "upload",
    [
        pytest.param(lambda shop: shop.upload(BOB), id="another-users"),
        pytest.param(lambda shop: shop.upload(ALICE, status="pending"), id="pending"),
        pytest.param(lambda shop: shop.upload(ALICE, status="rejected"), id="rejected"),
        pytest.param(lambda shop: "upl_" + "Z" * 22, id="unknown"),
    ],
)
def test_an_upload_the_caller_cannot_use_is_refused_with_nothing_reserved(upload: Any) -> None:
    shop = Shop.open()

    with pytest.raises(UploadsUnusable) as raised:
        shop.create(inputs={"image": upload(shop)})

    assert [(error.field, error.type) for error in raised.value.errors] == [
        ("inputs.image", "upload_unusable")
    ]
    nothing_written(shop)


def test_not_enough_credits_is_quota_exceeded_with_nothing_written() -> None:
    shop = Shop.open(cost=11)

    with pytest.raises(QuotaExceeded):
        shop.create()

    nothing_written(shop)
    assert shop.world.ledger.entries(ALICE.user.id)[-1].kind == "period_grant"


def test_credits_run_out_after_the_tasks_they_pay_for() -> None:
    shop = Shop.open(cost=COST)

    first, second = shop.create(), shop.create()
    with pytest.raises(QuotaExceeded):
        shop.create()

    assert {first.status, second.status} == {"queued"}
    assert len(shop.world.tasks.tasks) == 2
    assert shop.balance(ALICE) == (10 - 2 * COST, 2 * COST)


def test_the_same_key_and_body_twice_create_one_task_and_answer_it_again() -> None:
    shop = Shop.open()
    inputs = {"image": shop.upload(ALICE)}

    first = shop.create(inputs=inputs, key="retry-1")
    again = shop.create(inputs=inputs, key="retry-1")

    assert again == first
    assert len(shop.world.tasks.tasks) == 1
    assert list(shop.world.reservations.reservations) == [first.id]
    assert shop.balance(ALICE) == (10 - COST, COST)
    assert len(shop.queue.published) == 1


def test_the_same_key_with_another_body_is_refused() -> None:
    shop = Shop.open()
    shop.create(inputs={"image": shop.upload(ALICE)}, key="retry-1")

    with pytest.raises(IdempotencyKeyReused):
        shop.create(inputs={"image": shop.upload(ALICE)}, key="retry-1")

    assert len(shop.world.tasks.tasks) == 1
    assert shop.balance(ALICE) == (10 - COST, COST)


def test_one_key_of_two_callers_creates_a_task_for_each() -> None:
    shop = Shop.open()

    mine = shop.create(ALICE, key="same")
    theirs = shop.create(BOB, key="same")

    assert mine.id != theirs.id
    assert shop.balance(ALICE) == shop.balance(BOB) == (10 - COST, COST)


def test_a_refused_request_frees_its_key_for_a_corrected_retry() -> None:
    shop = Shop.open()
    inputs = {"image": shop.upload(ALICE, status="pending")}
    with pytest.raises(UploadsUnusable):
        shop.create(inputs=inputs, key="retry-1")
    upload = shop.world.uploads.get_by_public_id(inputs["image"])
    assert upload is not None
    shop.world.uploads.mark_ready(upload.id, width=8, height=6, actual_size=1, sha256="0" * 64)

    created = shop.create(inputs=inputs, key="retry-1")

    assert shop.task(created.id).status == "queued"
