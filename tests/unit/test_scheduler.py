"""The local scheduler: AWS rate and cron expressions, EventBridge scheduled events."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from scripts.local.lambda_runtime import FakeLambdaContext
from scripts.local.sam import FunctionSpec, Template, load_handler, load_template
from scripts.local.scheduler import (
    Rate,
    ScheduleExpressionError,
    parse_schedule,
    run_schedules,
    scheduled_jobs,
)
from tests.integration.local_runtime import ECHO_APP, ECHO_TEMPLATE


@pytest.fixture
def echo_template(tmp_path: Path) -> Template:
    """The echo function of the local-runtime tests, in a template of its own."""
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "app.py").write_text(ECHO_APP)
    (tmp_path / "template.yaml").write_text(ECHO_TEMPLATE)
    return load_template(tmp_path / "template.yaml")


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(12 hours)", 43_200),
        ("rate(2 days)", 172_800),
    ],
)
def test_schedule_parser_reads_rate_expressions(expression: str, seconds: int) -> None:
    assert parse_schedule(expression) == Rate(timedelta(seconds=seconds))


@pytest.mark.parametrize(
    "expression", ["rate(0 minutes)", "rate(5 weeks)", "rate(five minutes)", "every hour"]
)
def test_schedule_parser_rejects_what_it_cannot_run(expression: str) -> None:
    with pytest.raises(ScheduleExpressionError):
        parse_schedule(expression)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        # 2024-03-16 is a Saturday: the next weekday 10:00 is Monday the 18th
        ("cron(0 10 ? * MON-FRI *)", datetime(2024, 3, 16, 12, 0), datetime(2024, 3, 18, 10, 0)),
        ("cron(15 2 1 * ? *)", datetime(2024, 3, 16, 12, 0), datetime(2024, 4, 1, 2, 15)),
        ("cron(*/10 * * * ? *)", datetime(2024, 3, 16, 12, 3), datetime(2024, 3, 16, 12, 10)),
        ("cron(0 0 ? * 1 *)", datetime(2024, 3, 16, 12, 0), datetime(2024, 3, 17, 0, 0)),
    ],
)
def test_schedule_parser_finds_the_next_run_of_a_cron_expression(
    expression: str, after: datetime, expected: datetime
) -> None:
    timing = parse_schedule(expression)

    assert timing.next_after(after.replace(tzinfo=timezone.utc)) == expected.replace(
        tzinfo=timezone.utc
    )


def test_scheduler_invokes_the_function_with_a_scheduled_event_when_due(
    echo_template: Template,
) -> None:
    # GIVEN the echo function's rate(1 minute) schedule and a clock already past its first run
    jobs = scheduled_jobs(echo_template.functions)
    handler = load_handler(echo_template.function("EchoFunction"))
    start = datetime(2024, 3, 16, 12, 0, tzinfo=timezone.utc)
    readings = iter([start, start + timedelta(seconds=61)])
    answers: list[Any] = []

    async def invoke(spec: FunctionSpec, event: dict[str, Any]) -> None:
        answers.append(handler(event, FakeLambdaContext.for_function(spec.logical_id, "id-1")))
        raise asyncio.CancelledError  # one run is enough: stop the scheduler

    # WHEN the scheduler runs
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(run_schedules(jobs, invoke, clock=lambda: next(readings)))

    # THEN the function got EventBridge's scheduled event
    assert [job.schedule.expression for job in jobs] == ["rate(1 minute)"]
    assert answers == [{"scheduled": "Scheduled Event", "function": "EchoFunction"}]
