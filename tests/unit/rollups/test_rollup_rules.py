"""The rollups' pure rules: periods and the recompute window, the task figures of a period
(counts rolled up over every feature and provider, the nearest-rank 95th percentile), and the
backfill range the job accepts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from retouch.rollups.handlers import Backfill
from retouch.rollups.periods import Period, period_of, periods_between, periods_to_recompute
from retouch.rollups.sources import EndedTask, Value, percentile, task_values

UTC = timezone.utc


def test_a_week_starts_on_monday_and_a_day_at_midnight_utc() -> None:
    moment = datetime(2026, 12, 5, 22, 37, 12, tzinfo=UTC)  # a Saturday
    assert period_of("hour", moment).start == datetime(2026, 12, 5, 22, tzinfo=UTC)
    assert period_of("day", moment).start == datetime(2026, 12, 5, tzinfo=UTC)
    assert period_of("week", moment) == Period("week", datetime(2026, 11, 30, tzinfo=UTC))
    assert period_of("week", moment).end == datetime(2026, 12, 7, tzinfo=UTC)


def test_the_window_is_the_current_and_previous_period_of_each_grain() -> None:
    now = datetime(2026, 12, 7, 0, 3, tzinfo=UTC)  # just past a week's and a day's start

    window = periods_to_recompute(now)

    assert [(p.grain, p.start) for p in window] == [
        ("hour", datetime(2026, 12, 6, 23, tzinfo=UTC)),
        ("hour", datetime(2026, 12, 7, 0, tzinfo=UTC)),
        ("day", datetime(2026, 12, 6, tzinfo=UTC)),
        ("day", datetime(2026, 12, 7, tzinfo=UTC)),
        ("week", datetime(2026, 11, 30, tzinfo=UTC)),
        ("week", datetime(2026, 12, 7, tzinfo=UTC)),
    ]


def test_periods_between_cover_a_range_that_starts_mid_hour() -> None:
    since = datetime(2026, 12, 5, 10, 30, tzinfo=UTC)
    hours = periods_between("hour", since, since + timedelta(hours=2))
    assert [p.start.hour for p in hours] == [10, 11, 12]


def test_percentile_is_the_nearest_rank() -> None:
    assert percentile([5], 95) == 5
    assert percentile(list(range(1, 21)), 95) == 19
    assert percentile(list(range(1, 101)), 95) == 95
    assert percentile([3, 1, 2], 50) == 2


def test_task_values_roll_each_task_up_to_its_feature_its_provider_and_all() -> None:
    ended = [
        EndedTask("cutout", "alpha", "succeeded", 100, 0),
        EndedTask("cutout", "beta", "succeeded", 300, 2),
        EndedTask("eraser", "alpha", "failed", 50, 1),
        EndedTask("eraser", "", "canceled", 10, 0),
    ]
    values = {(v.metric, v.feature_key, v.provider_key): v.value for v in task_values(ended, [])}

    assert values[("tasks_succeeded", "cutout", "alpha")] == 1
    assert values[("tasks_succeeded", "cutout", "*")] == 2
    assert values[("tasks_succeeded", "*", "*")] == 2
    assert values[("tasks_failed", "*", "alpha")] == 1
    assert values[("tasks_canceled", "eraser", "")] == 1
    assert values[("task_fallbacks", "*", "*")] == 3
    assert values[("task_duration_ms_sum", "cutout", "*")] == 400
    assert values[("task_duration_ms_p95", "*", "*")] == 300
    assert ("task_duration_ms_sum", "eraser", "*") not in values  # nothing succeeded there


def test_tasks_created_count_per_feature_and_in_all() -> None:
    values = task_values([], [("cutout", 4), ("eraser", 1)])
    assert Value("tasks_created", "*", "*", 5) in values
    assert Value("tasks_created", "cutout", "*", 4) in values


@pytest.mark.parametrize(
    "event",
    [
        {"since": "2026-12-05T10:00:00Z"},  # no end
        {"since": "2026-12-05T10:00:00Z", "until": "2026-12-05T09:00:00Z"},  # backwards
        {"since": "2026-01-01T00:00:00Z", "until": "2026-12-05T00:00:00Z"},  # over 31 days
        {"since": "2026-12-05T10:00:00", "until": "2026-12-05T11:00:00"},  # no zone
        {"since": "2026-12-05T10:00:00Z", "until": "2026-12-05T11:00:00Z", "hours": 1},
    ],
)
def test_a_backfill_range_that_is_not_a_bounded_aware_range_is_refused(
    event: dict[str, object],
) -> None:
    with pytest.raises(ValidationError):
        Backfill.model_validate(event)
