"""scripts/bench/generate_tasks.py against the test stack, at tiny sizes: it must not rot unseen."""

from __future__ import annotations

import io

import pytest

from retouch.core.db import get_database
from scripts.bench.generate_tasks import generate
from tests.conftest import Stack
from tests.integration.task_support import task_count

pytestmark = pytest.mark.integration


def visible_tasks(owner: str) -> int:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM tasks t JOIN users u ON u.id = t.user_id "
            "WHERE u.public_id = %s AND t.hidden = FALSE",
            (owner,),
        )
    assert row is not None
    return int(row["n"])


def table_counts() -> tuple[int, int]:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT (SELECT COUNT(*) FROM tasks) AS tasks, (SELECT COUNT(*) FROM users) AS users"
        )
    assert row is not None
    return int(row["tasks"]), int(row["users"])


def test_adds_the_asked_rows_and_users_with_the_owner_holding_exactly_its_share(
    stack: Stack,
) -> None:
    # GIVEN the test database as it is
    tasks_before, users_before = table_counts()

    # WHEN the generator adds 7,300 tasks (two batches and a bit), 300 of a new owner's
    generated = generate(get_database(), rows=7_300, user_rows=300, users=40, stream=io.StringIO())

    # THEN exactly those rows and 41 accounts are new, and all 300 of the owner's are visible
    assert table_counts() == (tasks_before + 7_300, users_before + 41)
    assert task_count(generated.owner_public_id) == 300
    assert visible_tasks(generated.owner_public_id) == 300


def test_a_second_run_for_the_same_owner_adds_to_the_first(stack: Stack) -> None:
    # GIVEN an owner with generated tasks
    first = generate(get_database(), rows=500, user_rows=120, users=5, stream=io.StringIO())
    tasks_before, users_before = table_counts()

    # WHEN the generator runs again for the same owner
    second = generate(
        get_database(),
        rows=400,
        user_rows=80,
        users=5,
        owner=first.owner_public_id,
        stream=io.StringIO(),
    )

    # THEN it adds its rows and users beside the earlier ones, the owner's too
    assert second.owner_id == first.owner_id
    assert table_counts() == (tasks_before + 400, users_before + 5)
    assert task_count(first.owner_public_id) == 200


def test_every_status_and_every_seeded_feature_occurs(stack: Stack) -> None:
    # WHEN the generator adds a few thousand tasks
    generated = generate(get_database(), rows=3_000, user_rows=3_000, stream=io.StringIO())

    # THEN the owner's tasks mix all statuses and features, succeeded ones with an output
    with get_database().unit_of_work() as uow:
        rows = uow.fetch_all(
            "SELECT status, feature_key, COUNT(*) AS n, SUM(output IS NOT NULL) AS outputs "
            "FROM tasks WHERE user_id = %s GROUP BY status, feature_key",
            (generated.owner_id,),
        )
        features = uow.fetch_all("SELECT feature_key FROM feature_definitions")
    assert {row["status"] for row in rows} == {
        "queued",
        "running",
        "succeeded",
        "failed",
        "canceled",
    }
    assert {row["feature_key"] for row in rows} == {row["feature_key"] for row in features}
    for row in rows:
        assert int(row["outputs"]) == (int(row["n"]) if row["status"] == "succeeded" else 0)
