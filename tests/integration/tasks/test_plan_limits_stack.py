"""Plan limits at task creation on the real database: a burst of concurrent creations of one
user stops exactly at the plan's number of unfinished tasks, with every refusal a 409 that
reserved nothing; an input larger than the plan allows is refused the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from retouch.core.db import get_database
from tests.conftest import Stack
from tests.integration.identity_support import new_account
from tests.integration.quota_support import assert_ledger_matches
from tests.integration.task_support import (
    burst,
    new_upload,
    quota,
    task_count,
    tasks_app,
    user_internal_id,
)

pytestmark = pytest.mark.integration

SetLimits = Callable[[int | None, int | None], None]


def _set_free_limits(concurrent: int | None, pixels: int | None) -> None:
    with get_database().unit_of_work() as uow:
        uow.execute(
            "UPDATE plans SET max_concurrent_tasks = %s, max_input_pixels = %s WHERE code = 'free'",
            (concurrent, pixels),
        )
        uow.commit()


@pytest.fixture
def free_limits(stack: Stack) -> Iterator[Callable[[int | None, int | None], None]]:
    """Set the free plan's limits (unfinished tasks, input pixels) for the test's length."""
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT max_concurrent_tasks, max_input_pixels FROM plans WHERE code = 'free'"
        )
    assert row is not None
    try:
        yield _set_free_limits
    finally:
        _set_free_limits(row["max_concurrent_tasks"], row["max_input_pixels"])


def test_concurrent_creations_stop_at_the_plans_limit(free_limits: SetLimits) -> None:
    # GIVEN a free user (3 unfinished tasks at most) and 8 requests released together
    free_limits(3, None)
    user, headers = new_account()
    before = quota(user["id"])
    bodies = [{"feature": "cutout", "inputs": {"image": new_upload(user["id"])}} for _ in range(8)]
    answers = burst(headers, bodies)

    # THEN exactly 3 were created; the others are PLAN_LIMIT_REACHED and reserved nothing
    created = [answer for answer in answers if answer.status_code == 202]
    refused = [answer.json()["code"] for answer in answers if answer.status_code != 202]
    assert len(created) == 3
    assert refused == ["PLAN_LIMIT_REACHED"] * 5
    assert task_count(user["id"]) == 3
    cost = created[0].json()["cost"]
    assert quota(user["id"]) == {"balance": before["balance"] - 3 * cost, "reserved": 3 * cost}
    assert_ledger_matches(get_database(), user_internal_id(user["id"]))


def test_an_input_over_the_plans_pixels_is_409_and_reserves_nothing(
    free_limits: SetLimits,
) -> None:
    free_limits(None, 60)
    user, headers = new_account()
    before = quota(user["id"])  # the uploads of new_upload are 8 x 8 = 64 pixels
    with TestClient(tasks_app()) as client:
        response = client.post(
            "/v1/tasks",
            json={"feature": "cutout", "inputs": {"image": new_upload(user["id"])}},
            headers={**headers, "Accept-Language": "en"},
        )

    assert response.status_code == 409
    assert response.json()["code"] == "PLAN_LIMIT_REACHED"
    assert response.json()["detail"] == "Your plan allows input images of at most 60 pixels"
    assert task_count(user["id"]) == 0 and quota(user["id"]) == before
