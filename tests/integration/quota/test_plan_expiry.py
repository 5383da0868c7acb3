"""The plan expiry job on the real database: memberships past their expiry are ended once,
audited per user and counted, in bounded batches; two runs at once and a run repeated do it
once; memberships ended by a change are not the job's; balances do not move."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from retouch.core.caller_cache import generation_key
from retouch.core.db import Database, get_database
from retouch.core.redis import get_redis
from retouch.core.settings import get_settings
from retouch.core.time import utc_now
from retouch.quota.memberships import change_membership
from retouch.users.expiry import expire_memberships
from tests.conftest import Stack, load_function
from tests.integration.identity_support import audit_rows
from tests.integration.lock_support import open_transactions
from tests.integration.quota_support import FakeClock, account_of, new_user

pytestmark = pytest.mark.integration


@pytest.fixture
def database(stack: Stack) -> Database:
    return get_database()


def public_id(database: Database, user_id: int) -> str:
    with database.unit_of_work() as uow:
        row = uow.fetch_one("SELECT public_id FROM users WHERE id = %s", (user_id,))
    assert row is not None
    return str(row["public_id"])


def lapsed_member(database: Database, *, expired: datetime, plan: str = "pro") -> int:
    """A new user who held `plan` for a day until `expired`."""
    clock = FakeClock(expired - timedelta(days=1))
    user_id = new_user(database, clock=clock)
    with database.unit_of_work() as uow:
        change_membership(uow=uow, user_id=user_id, plan_code=plan, expires_at=expired, clock=clock)
        uow.commit()
    return user_id


def expiries(database: Database, user_id: int) -> list[dict[str, Any]]:
    return [
        row["after_state"]
        for row in audit_rows(public_id(database, user_id))
        if row["action"] == "membership.expired"
    ]


def memberships_of(database: Database, users: list[int]) -> list[dict[str, Any]]:
    """The users' memberships as the job sees them (for a failure's message)."""
    with database.unit_of_work() as uow:
        return uow.fetch_all(
            "SELECT user_id, plan_code, expires_at, expiry_handled_at FROM memberships "
            "WHERE user_id IN %s ORDER BY user_id, id",
            (users,),
        )


def test_a_lapsed_membership_is_ended_audited_and_changes_no_balance(database: Database) -> None:
    expired = utc_now() - timedelta(hours=2)
    user_id = lapsed_member(database, expired=expired)
    balance = account_of(database, user_id)

    outcome = expire_memberships(database=database)

    assert outcome["expired"] >= 1
    rows = [
        row
        for row in audit_rows(public_id(database, user_id))
        if row["action"] == "membership.expired"
    ]
    assert len(rows) == 1
    assert rows[0]["actor"] is None
    assert rows[0]["before_state"]["plan"] == "pro"
    assert rows[0]["after_state"] == {"plan": "free", "expires_at": None}
    assert account_of(database, user_id) == balance


def test_a_repeated_run_changes_nothing(database: Database) -> None:
    user_id = lapsed_member(database, expired=utc_now() - timedelta(minutes=5))
    expire_memberships(database=database)

    again = expire_memberships(database=database)

    assert again == {"expired": 0}
    assert len(expiries(database, user_id)) == 1


def test_two_runs_at_once_end_each_membership_once(database: Database, stack: Stack) -> None:
    users = [lapsed_member(database, expired=utc_now() - timedelta(minutes=30)) for _ in range(6)]
    barrier = threading.Barrier(2)
    outcomes: list[dict[str, int]] = []

    def run() -> None:
        barrier.wait()
        outcomes.append(expire_memberships(database=Database(get_settings(), "job"), batch=2))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == 2
    assert sum(outcome["expired"] for outcome in outcomes) >= len(users), (
        outcomes,
        memberships_of(database, users),
        open_transactions(stack),
    )
    assert [len(expiries(database, user_id)) for user_id in users] == [1] * len(users)


def test_a_run_ends_at_most_its_batches(database: Database) -> None:
    # expired long before any other test's memberships, so these are the first due
    oldest = datetime(2001, 1, 2, tzinfo=timezone.utc)
    users = [lapsed_member(database, expired=oldest + timedelta(minutes=i)) for i in range(5)]

    first = expire_memberships(database=database, batch=2, max_batches=1)

    assert first == {"expired": 2}
    assert [len(expiries(database, user_id)) for user_id in users] == [1, 1, 0, 0, 0]
    expire_memberships(database=database)
    assert [len(expiries(database, user_id)) for user_id in users] == [1] * 5


def test_a_membership_ended_by_a_change_is_not_the_jobs(database: Database) -> None:
    clock = FakeClock(utc_now() - timedelta(days=2))
    user_id = new_user(database, clock=clock)
    with database.unit_of_work() as uow:
        change_membership(
            uow=uow,
            user_id=user_id,
            plan_code="pro",
            expires_at=clock.now + timedelta(days=30),
            clock=clock,
        )
        clock.advance(hours=1)
        change_membership(uow=uow, user_id=user_id, plan_code="free", expires_at=None, clock=clock)
        uow.commit()

    expire_memberships(database=database)

    assert expiries(database, user_id) == []


def test_the_scheduled_function_runs_the_job(database: Database) -> None:
    user_id = lapsed_member(database, expired=utc_now() - timedelta(minutes=1))
    handler = load_function("functions/jobs/plan_expiry/app.py").handler

    outcome = handler({}, None)

    assert set(outcome) == {"expired"} and outcome["expired"] >= 1
    assert len(expiries(database, user_id)) == 1


def test_a_run_forgets_the_cached_caller_of_each_membership_it_ends(database: Database) -> None:
    # GIVEN a lapsed member and one whose membership is still in force
    lapsed = public_id(database, lapsed_member(database, expired=utc_now() - timedelta(hours=1)))
    current = public_id(database, lapsed_member(database, expired=utc_now() + timedelta(days=1)))
    before = {user: get_redis().get(generation_key(user)) for user in (lapsed, current)}

    # WHEN the job runs
    expire_memberships(database=database)

    # THEN the ended membership's cached caller is invalidated (its generation moved), only it
    after = {user: get_redis().get(generation_key(user)) for user in (lapsed, current)}
    assert after[lapsed] != before[lapsed]
    assert after[current] == before[current]
