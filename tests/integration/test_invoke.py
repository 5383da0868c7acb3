"""`scripts/invoke`: what `sam local invoke` does, without Docker."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest

from retouch.auth.service import register
from retouch.core.db import get_database
from retouch.core.settings import get_settings
from scripts.sam import EVENTS
from tests.conftest import Stack
from tests.integration.local_runtime import (
    EVENT_FILES,
    clean_environment,
    run_invoke,
)

pytestmark = pytest.mark.integration


# The events of HealthFunction: the others need their own function, a fresh email or a token
# (test_descriptors invokes every event against its function).
HEALTH_EVENT_FILES = [path for path in EVENT_FILES if path.name.startswith("health_")]


@pytest.mark.parametrize("event_file", HEALTH_EVENT_FILES, ids=lambda path: path.name)
def test_invoke_prints_the_functions_response_for_each_sample_event(
    stack: Stack, event_file: Path, tmp_path: Path
) -> None:
    # GIVEN the environment of the running stack, and a working directory elsewhere
    env = {**os.environ, **stack.env()}

    # WHEN scripts/invoke runs the function with a sample event
    result = run_invoke("HealthFunction", event_file, env=env, cwd=tmp_path)

    # THEN stdout is exactly the function's response (logs went to stderr)
    assert result.returncode == 0, result.stderr
    response = json.loads(result.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["status"] == "ok"
    assert '"message":"request"' in result.stderr


def test_invoke_with_an_invalid_setting_exits_with_one_line_naming_it(stack: Stack) -> None:
    # GIVEN an invalid port among otherwise valid settings
    env = {**os.environ, **stack.env(), "RETOUCH_DB_PORT": "abc"}

    # WHEN scripts/invoke runs
    result = run_invoke("HealthFunction", EVENTS / "health_aws_rest.json", env=env)

    # THEN it stops before calling the function, with one line naming the variable
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "RETOUCH_DB_PORT" in result.stderr


def test_invoke_reads_the_settings_of_the_local_stack_from_its_env_file(
    stack: Stack, tmp_path: Path
) -> None:
    # GIVEN no RETOUCH_* variable in the environment, and the stack's variables in a file
    env_file = tmp_path / "env"
    env_file.write_text("".join(f"{key}={value}\n" for key, value in stack.env().items()))

    # WHEN scripts/invoke runs with that file
    result = run_invoke(
        "HealthFunction",
        EVENTS / "health_aws_http.json",
        "--env-file",
        env_file,
        env=clean_environment(),
    )

    # THEN the function reached the stack's database
    assert result.returncode == 0, result.stderr
    assert json.loads(json.loads(result.stdout)["body"])["check"] == "db"


def test_invoke_names_the_known_functions_when_asked_for_an_unknown_one(stack: Stack) -> None:
    result = run_invoke("NoSuchFunction", EVENTS / "health_aws_rest.json", env=dict(os.environ))

    assert result.returncode == 2
    assert "NoSuchFunction" in result.stderr
    assert "HealthFunction" in result.stderr


def test_invoke_fills_in_the_access_token_of_a_users_event(stack: Stack) -> None:
    # GIVEN a registered user's access token
    email = f"invoke-{uuid.uuid4().hex[:12]}@example.com"
    pair = register(
        database=get_database(), settings=get_settings(), email=email, password="Invoke-Pass-42"
    )

    # WHEN the users event is invoked with it
    result = run_invoke(
        "UsersFunction",
        EVENTS / "users_aws_rest.json",
        "--bearer",
        pair.access_token,
        env=os.environ.copy(),
    )

    # THEN /v1/me answers for that user
    response = json.loads(result.stdout)
    assert response["statusCode"] == 200
    assert json.loads(response["body"])["email"] == email
