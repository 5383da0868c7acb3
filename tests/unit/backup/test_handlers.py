"""The restore event is checked before anything is read or connected: a wrong shape or a
bad database name is refused with its stable code; the verify function's entry sends an
event with `database` to the restore."""

from __future__ import annotations

from typing import Any

import pytest

from retouch.backup.handlers import restore_job
from tests.conftest import FakeLambdaContext, load_function


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"backup": "latest"},
        {"backup": "latest", "database": 5},
        {"backup": ["latest"], "database": "retouch_x"},
        {"backup": "latest", "database": "retouch_x", "replace": "yes"},
        {"backup": "latest", "database": "retouch_x", "drop": True},
    ],
)
def test_a_restore_event_of_another_shape_is_refused(event: dict[str, Any]) -> None:
    outcome = restore_job(event)

    assert (outcome["outcome"], outcome["code"]) == ("refused", "INVALID_EVENT")


@pytest.mark.parametrize("database", ["", "retouch; DROP DATABASE retouch", "a" * 65, "x`y"])
def test_a_database_name_outside_the_safe_set_is_refused_before_any_statement(
    database: str,
) -> None:
    outcome = restore_job({"backup": "latest", "database": database})

    assert (outcome["outcome"], outcome["code"]) == ("refused", "INVALID_DATABASE_NAME")


def test_the_verify_function_restores_when_the_event_names_a_database() -> None:
    function = load_function("functions/jobs/backup_verify/app.py")

    outcome = function.handler({"database": "retouch_x", "backup": 1}, FakeLambdaContext())

    assert (outcome["outcome"], outcome["code"]) == ("refused", "INVALID_EVENT")
    assert function.main_handler is function.handler
