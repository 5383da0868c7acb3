"""Task creation under concurrency on the real database, where its statements were cut: the
credits are taken by one conditional update that is also the account's lock, so requests
racing for the last credits never overspend them; a free feature, which reserves nothing,
still takes the lock before counting the plan's unfinished tasks; and what is judged before
the transaction (feature, form) is read afresh by every request of the same instance."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from retouch.catalog.repository import MySQLFeatureRepository
from retouch.catalog.service import add_form_version
from retouch.core.db import get_database
from tests.catalog_support import seed_feature
from tests.conftest import Stack
from tests.integration.catalog_api_support import fresh_feature
from tests.integration.identity_support import new_account
from tests.integration.quota_support import assert_ledger_matches
from tests.integration.task_support import (
    burst,
    new_upload,
    outbox_rows,
    quota,
    task_count,
    tasks_app,
    user_internal_id,
)

pytestmark = pytest.mark.integration

Send = Callable[[dict[str, Any]], Any]


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(tasks_app()) as test_client:
        yield test_client


def _set_free_concurrency(limit: int | None) -> None:
    with get_database().unit_of_work() as uow:
        uow.execute("UPDATE plans SET max_concurrent_tasks = %s WHERE code = 'free'", (limit,))
        uow.commit()


@pytest.fixture
def free_concurrency(stack: Stack) -> Iterator[Callable[[int | None], None]]:
    """Set the free plan's number of unfinished tasks for the test's length."""
    with get_database().read_only() as uow:
        row = uow.fetch_one("SELECT max_concurrent_tasks FROM plans WHERE code = 'free'")
    assert row is not None
    try:
        yield _set_free_concurrency
    finally:
        _set_free_concurrency(row["max_concurrent_tasks"])


def test_racing_for_the_last_credits_creates_one_task_and_the_rest_are_402(
    free_concurrency: Callable[[int | None], None],
) -> None:
    # GIVEN a feature that costs exactly the balance, and six requests released together
    free_concurrency(None)
    user, headers = new_account()
    balance = quota(user["id"])["balance"]
    feature = fresh_feature(cost=balance)
    bodies = [{"feature": feature, "inputs": {"image": new_upload(user["id"])}} for _ in range(6)]

    answers = burst(headers, bodies)

    # THEN one task took the credits; every other answer is 402 and wrote nothing
    codes = sorted(answer.status_code for answer in answers)
    assert codes == [202, 402, 402, 402, 402, 402]
    refused = {answer.json()["code"] for answer in answers if answer.status_code == 402}
    assert refused == {"QUOTA_EXCEEDED"}
    assert task_count(user["id"]) == 1
    assert quota(user["id"]) == {"balance": 0, "reserved": balance}
    assert_ledger_matches(get_database(), user_internal_id(user["id"]))
    created = next(answer.json()["id"] for answer in answers if answer.status_code == 202)
    rows = outbox_rows(created)
    assert len(rows) == 1 and rows[0]["published_at"] is not None


def test_a_free_feature_locks_before_it_counts_so_a_burst_stops_at_the_plans_limit(
    free_concurrency: Callable[[int | None], None],
) -> None:
    # GIVEN a feature that costs nothing (no credits to take) and a limit of 2
    free_concurrency(2)
    user, headers = new_account()
    before = quota(user["id"])
    feature = fresh_feature(cost=0)
    bodies = [{"feature": feature, "inputs": {"image": new_upload(user["id"])}} for _ in range(6)]

    answers = burst(headers, bodies)

    # THEN exactly 2 were created and the others are PLAN_LIMIT_REACHED
    assert sorted(answer.status_code for answer in answers) == [202, 202, 409, 409, 409, 409]
    refused = {answer.json()["code"] for answer in answers if answer.status_code == 409}
    assert refused == {"PLAN_LIMIT_REACHED"}
    assert task_count(user["id"]) == 2
    assert quota(user["id"]) == before


def test_a_feature_switched_off_between_two_creations_refuses_the_second(
    client: TestClient,
) -> None:
    user, headers = new_account()
    feature = fresh_feature(cost=1)
    body = {"feature": feature, "inputs": {"image": new_upload(user["id"])}}
    assert client.post("/v1/tasks", json=body, headers=headers).status_code == 202

    with get_database().unit_of_work() as uow:
        MySQLFeatureRepository(uow).set_terms(feature, cost=1, enabled=False)
        uow.commit()

    body = {"feature": feature, "inputs": {"image": new_upload(user["id"])}}
    refused = client.post("/v1/tasks", json=body, headers=headers)
    assert (refused.status_code, refused.json()["code"]) == (409, "FEATURE_UNAVAILABLE")
    assert task_count(user["id"]) == 1


def test_a_new_form_version_is_the_one_the_next_creation_is_checked_against(
    client: TestClient,
) -> None:
    # GIVEN a task created with version 1 of a feature's form, then a version 2 made current
    user, headers = new_account()
    feature = fresh_feature(cost=1)
    first = {"feature": feature, "inputs": {"image": new_upload(user["id"])}}
    assert client.post("/v1/tasks", json=first, headers=headers).status_code == 202
    form = seed_feature("cutout").form
    add_form_version(
        database=get_database(),
        feature_key=feature,
        json_schema={**form, "required": [*form["required"], "refine_edges"]},
        created_by=None,
        make_current=True,
    )

    # THEN the same instance checks the next request against version 2
    inputs: dict[str, object] = {"image": new_upload(user["id"])}
    refused = client.post("/v1/tasks", json={"feature": feature, "inputs": inputs}, headers=headers)
    assert refused.status_code == 422
    assert [error["field"] for error in refused.json()["errors"]] == ["body.inputs.refine_edges"]
    inputs["refine_edges"] = True
    again = client.post("/v1/tasks", json={"feature": feature, "inputs": inputs}, headers=headers)
    assert again.status_code == 202
    assert task_count(user["id"]) == 2
