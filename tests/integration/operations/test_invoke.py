"""`scripts/invoke`: what `sam local invoke` does, without Docker."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from scripts.local.sam import EVENTS
from tests.conftest import Stack
from tests.integration.identity_support import sign_up
from tests.integration.local_runtime import (
    EVENT_FILES,
    clean_environment,
    received_events,
    run_invoke,
    write_queue_echo,
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
    pair = sign_up(email, "Invoke-Pass-42")

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


# Sample events of a queue-triggered function, in the shapes events/README.md names: what
# Lambda's SQS poller sends (AWS's documented example, with our bodies) and SCF's CMQ trigger.
SQS_EVENT = {
    "Records": [
        {
            "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
            "receiptHandle": "AQEBwJnKyrHigUMZj6rYigCgxlaS3SLy0a",
            "body": '{"task_id":"tsk_1","step":"prepare","attempt":1}',
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1545082649183",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1545082649185",
            },
            "messageAttributes": {},
            "md5OfBody": "acefff562b17d54b468408fa62e43b37",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:retouch-dev-steps-prepare",
            "awsRegion": "us-east-2",
        },
        {
            "messageId": "2e1424d4-f796-459a-8184-9c92662be6da",
            "receiptHandle": "AQEBzWwaftRI0KuVm4tP+/7q1rGgNqicHq",
            "body": '{"task_id":"tsk_2","step":"prepare","attempt":1,"fail_deliveries":1}',
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1545082650636",
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": "1545082650649",
            },
            "messageAttributes": {},
            "md5OfBody": "1cf6afeae6d79e00f331313e5788c03b",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-2:123456789012:retouch-dev-steps-prepare",
            "awsRegion": "us-east-2",
        },
    ]
}
CMQ_EVENT = {
    "Records": [
        {
            "CMQ": {
                "type": "topic",
                "topicOwner": "1250000000",
                "topicName": "retouch-dev-steps-prepare",
                "subscriptionName": "retouch-prepare",
                "publishTime": "2026-11-28T00:00:00.000Z",
                "msgId": "123345346",
                "requestId": "123345346",
                "msgBody": '{"task_id":"tsk_3","step":"prepare","attempt":1}',
                "msgTag": "",
            }
        }
    ]
}


def _invoke_queue_echo(
    folder: Path, event_file_name: str, event: dict[str, Any]
) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """scripts/invoke of the queue echo function (in `folder`) with `event` in a file of that
    name; its result, and the events the function received."""
    template = write_queue_echo(folder, "steps-prepare")
    event_file = folder / event_file_name
    event_file.write_text(json.dumps(event))
    result = run_invoke(
        "QueueEchoFunction", event_file, "--template", template.path, env=dict(os.environ)
    )
    assert result.returncode == 0, result.stderr
    return result, [received["event"] for received in received_events(template)]


def test_invoke_calls_a_queue_function_with_an_sqs_event_file_and_prints_its_failures(
    stack: Stack, tmp_path: Path
) -> None:
    # GIVEN a queue-triggered function WHEN scripts/invoke runs it with an SQS event file
    result, received = _invoke_queue_echo(tmp_path, "queue_echo_aws_sqs.json", SQS_EVENT)

    # THEN Lambda's handler got the event as it is, and its partial batch response is printed
    assert json.loads(result.stdout) == {
        "batchItemFailures": [{"itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da"}]
    }
    assert received == [SQS_EVENT]


def test_invoke_calls_the_scf_entry_point_of_a_queue_function_with_a_cmq_event_file(
    stack: Stack, tmp_path: Path
) -> None:
    # GIVEN a queue-triggered function WHEN scripts/invoke runs it with a CMQ event file
    result, received = _invoke_queue_echo(tmp_path, "queue_echo_scf_cmq.json", CMQ_EVENT)

    # THEN SCF's entry point ran: the handler saw the CMQ message as an SQS-shaped record
    assert json.loads(result.stdout) == {"batchItemFailures": []}
    [[record]] = [event["Records"] for event in received]
    assert record["messageId"] == "123345346"
    assert json.loads(record["body"]) == {"task_id": "tsk_3", "step": "prepare", "attempt": 1}
    assert record["eventSourceARN"] == "retouch-dev-steps-prepare"
