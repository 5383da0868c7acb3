"""The rollups against the tables they summarise (real MariaDB): every hour, day and week row
equals a direct aggregate over generated activity, a re-run gives the same rows, and a task
that ends after its hour was rolled up is counted when the hour is recomputed."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

import numpy
import pytest

from retouch.core.db import Database, get_database
from retouch.core.time import to_db
from retouch.rollups import recompute_recent
from retouch.rollups.periods import period_of
from retouch.rollups.service import backfill
from tests.conftest import Stack
from tests.integration.quota_support import new_user
from tests.integration.rollup_support import add_task, far_day, generate, rollup_rows

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)


@pytest.fixture
def database(stack: Stack) -> Database:
    return get_database()


def direct_task_counts(
    database: Database, start: datetime, end: datetime
) -> dict[tuple[str, str, str], int]:
    """tasks_<status> per (feature, provider), straight from tasks and task_steps."""
    with database.read_only() as uow:
        rows = uow.fetch_all(
            "SELECT t.feature_key, COALESCE(s.provider_key, '') AS provider, t.status, "
            "COUNT(*) AS n FROM tasks t "
            "LEFT JOIN task_steps s ON s.task_id = t.id AND s.step = 'generate' "
            "WHERE t.finished_at >= %s AND t.finished_at < %s "
            "GROUP BY t.feature_key, provider, t.status",
            (to_db(start), to_db(end)),
        )
    return {(f"tasks_{r['status']}", r["feature_key"], r["provider"]): int(r["n"]) for r in rows}


def direct_scalar(database: Database, sql: str, start: datetime, end: datetime) -> int:
    with database.read_only() as uow:
        row = uow.fetch_one(sql, (to_db(start), to_db(end)))
    assert row is not None
    return int(row["n"] or 0)


def succeeded_durations(database: Database, start: datetime, end: datetime) -> list[int]:
    with database.read_only() as uow:
        rows = uow.fetch_all(
            "SELECT TIMESTAMPDIFF(MICROSECOND, created_at, finished_at) DIV 1000 AS ms "
            "FROM tasks WHERE status = 'succeeded' AND finished_at >= %s AND finished_at < %s",
            (to_db(start), to_db(end)),
        )
    return [int(r["ms"]) for r in rows]


def assert_period_equals_direct_aggregate(
    database: Database, grain: str, start: datetime, end: datetime
) -> None:
    rows = rollup_rows(database, grain, start)
    expected = direct_task_counts(database, start, end)
    for (metric, feature, provider), n in expected.items():
        assert rows[(metric, feature, provider)] == n, (grain, start, metric, feature, provider)
    for metric in ("tasks_succeeded", "tasks_failed", "tasks_canceled"):
        total = sum(n for (m, _, _), n in expected.items() if m == metric)
        assert rows.get((metric, "*", "*"), 0) == total, (grain, start, metric)
        per_feature = Counter[str]()
        for (m, feature, _), n in expected.items():
            if m == metric:
                per_feature[feature] += n
        for feature, n in per_feature.items():
            assert rows[(metric, feature, "*")] == n
    durations = succeeded_durations(database, start, end)
    assert rows.get(("task_duration_ms_sum", "*", "*"), 0) == sum(durations)
    if grain == "hour" and durations:
        nearest_rank = numpy.percentile(durations, 95, method="inverted_cdf")
        assert rows[("task_duration_ms_p95", "*", "*")] == int(nearest_rank)
    created = direct_scalar(
        database,
        "SELECT COUNT(*) AS n FROM tasks WHERE created_at >= %s AND created_at < %s",
        start,
        end,
    )
    assert rows.get(("tasks_created", "*", "*"), 0) == created
    assert rows[("active_users", "*", "*")] == direct_scalar(
        database,
        "SELECT COUNT(DISTINCT user_id) AS n FROM tasks WHERE created_at >= %s AND created_at < %s",
        start,
        end,
    )
    for metric, kind in (("credits_refunded", "refund"), ("credits_granted", "grant")):
        assert rows.get((metric, "*", "*"), 0) == direct_scalar(
            database,
            f"SELECT SUM(amount) AS n FROM quota_ledger WHERE kind = '{kind}' "  # noqa: S608
            "AND created_at >= %s AND created_at < %s",
            start,
            end,
        )
    assert rows.get(("credits_charged", "*", "*"), 0) == direct_scalar(
        database,
        "SELECT -SUM(r.amount) AS n FROM quota_ledger c JOIN quota_ledger r "
        "ON r.ref = c.ref AND r.kind = 'reserve' WHERE c.kind = 'charge' "
        "AND c.created_at >= %s AND c.created_at < %s",
        start,
        end,
    )
    assert rows[("uploads_rejected", "*", "*")] == direct_scalar(
        database,
        "SELECT COUNT(*) AS n FROM uploads WHERE status = 'rejected' "
        "AND created_at >= %s AND created_at < %s",
        start,
        end,
    )


def test_every_hour_day_and_week_equals_a_direct_aggregate_over_generated_data(
    database: Database,
) -> None:
    # GIVEN 240 tasks, ledger rows and uploads spread over six hours of a day of their own
    day = far_day()
    generated = generate(database, day)
    # WHEN the rollups of that day are computed
    backfill(database=database, since=day, until=day + timedelta(days=1))
    # THEN each hour (and the day, and its week) holds what a direct aggregate finds
    for hour in range(8):
        start = day + hour * HOUR
        assert_period_equals_direct_aggregate(database, "hour", start, start + HOUR)
    assert_period_equals_direct_aggregate(database, "day", day, day + timedelta(days=1))
    week = period_of("week", day)
    assert_period_equals_direct_aggregate(database, "week", week.start, week.end)
    day_rows = rollup_rows(database, "day", day)
    assert day_rows[("active_users", "*", "*")] <= len(generated.users)
    assert sum(
        n
        for (metric, f, p), n in day_rows.items()
        if metric.startswith("tasks_") and metric != "tasks_created" and f == p == "*"
    ) == direct_scalar(
        database,
        "SELECT COUNT(*) AS n FROM tasks WHERE finished_at >= %s AND finished_at < %s",
        day,
        day + timedelta(days=1),
    )


def test_recomputing_a_period_again_gives_the_same_rows(database: Database) -> None:
    day = far_day()
    generate(database, day, tasks=60)
    backfill(database=database, since=day, until=day + timedelta(days=1))
    first = {hour: rollup_rows(database, "hour", day + hour * HOUR) for hour in range(8)}
    first_day = rollup_rows(database, "day", day)

    backfill(database=database, since=day, until=day + timedelta(days=1))

    assert {hour: rollup_rows(database, "hour", day + hour * HOUR) for hour in range(8)} == first
    assert rollup_rows(database, "day", day) == first_day
    assert first_day  # the day had rows to compare


def test_a_task_that_ends_after_its_hour_was_rolled_up_counts_when_the_hour_is_recomputed(
    database: Database,
) -> None:
    # GIVEN an hour rolled up while its task was still running
    hour = far_day() + 10 * HOUR
    user = new_user(database)
    task = add_task(
        database,
        user_id=user,
        feature="cutout",
        status="running",
        created_at=hour + timedelta(minutes=50),
        finished_at=None,
        provider="alpha",
    )
    recompute_recent(database=database, clock=lambda: hour + timedelta(minutes=55))
    assert ("tasks_succeeded", "*", "*") not in rollup_rows(database, "hour", hour)
    assert rollup_rows(database, "hour", hour)[("tasks_created", "cutout", "*")] == 1

    # WHEN its success commits late, stamped inside that hour, and the next run comes
    with database.unit_of_work() as uow:
        uow.execute(
            "UPDATE tasks SET status = 'succeeded', finished_at = %s WHERE public_id = %s",
            (to_db(hour + timedelta(minutes=59)), task),
        )
        uow.commit()
    recompute_recent(database=database, clock=lambda: hour + timedelta(minutes=65))

    # THEN the previous hour, inside the recompute window, counts it; so do its day and week
    rows = rollup_rows(database, "hour", hour)
    assert rows[("tasks_succeeded", "cutout", "alpha")] == 1
    assert rows[("tasks_succeeded", "*", "*")] == 1
    assert (
        rollup_rows(database, "day", period_of("day", hour).start)[("tasks_succeeded", "*", "*")]
        == 1
    )
    assert (
        rollup_rows(database, "week", period_of("week", hour).start)[("tasks_succeeded", "*", "*")]
        == 1
    )


def test_the_recompute_window_is_the_current_and_previous_period_of_each_grain(
    database: Database,
) -> None:
    # GIVEN a task that ended two hours before the run
    hour = far_day() + 5 * HOUR
    add_task(
        database,
        user_id=new_user(database),
        feature="eraser",
        status="failed",
        created_at=hour,
        finished_at=hour + timedelta(minutes=1),
        provider=None,
    )
    # WHEN the job runs two hours later
    recompute_recent(database=database, clock=lambda: hour + 2 * HOUR + timedelta(minutes=5))
    # THEN that hour is outside the window (not recomputed) but its day counts the task,
    # with no provider ('')
    assert rollup_rows(database, "hour", hour) == {}
    day = rollup_rows(database, "day", period_of("day", hour).start)
    assert day == {} or day.get(("tasks_failed", "eraser", "")) is None
    backfill(database=database, since=hour, until=hour + HOUR)
    assert rollup_rows(database, "hour", hour)[("tasks_failed", "eraser", "")] == 1
    day = rollup_rows(database, "day", period_of("day", hour).start)
    assert day[("tasks_failed", "eraser", "")] == 1
