"""Helpers shared by the local-runtime tests: a function that echoes its event, a queue-triggered
function that records its batches, subprocess runs."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from scripts.local.lambda_runtime import ROOT
from scripts.local.sam import EVENTS, Template, load_template
from tests.leak_scan_plugin import record_printed_response

INVOKE = ROOT / "scripts" / "invoke"
EVENT_FILES = sorted(EVENTS.glob("*.json"))
HEALTH_PATHS = {"/health", "/health/db", "/health/redis"}

# A function written for these tests: it answers with the event it received, so a test can
# see exactly what the gateway built. Binary for /files/*, and it reports scheduled events.
ECHO_APP = """
import base64
import json

PNG = b"\\x89PNG\\r\\n\\x1a\\n\\x00\\xff"


def handler(event, context):
    if event.get("source") == "aws.events":
        return {"scheduled": event["detail-type"], "function": context.function_name}
    if event["path"].startswith("/files/"):
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "image/png"},
            "body": base64.b64encode(PNG).decode(),
            "isBase64Encoded": True,
        }
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "application/json", "X-Single": "one", "X-Multi": "lost"},
        "multiValueHeaders": {"X-Multi": ["a", "b"]},
        "body": json.dumps({"event": event, "function": context.function_name}),
        "isBase64Encoded": False,
    }
"""

ECHO_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: echo/
      Handler: app.handler
      Runtime: python3.11
      Events:
        GetItem: {Type: Api, Properties: {Path: "/items/{id}", Method: get}}
        GetSpecial: {Type: Api, Properties: {Path: /items/special, Method: get}}
        CreateItem: {Type: Api, Properties: {Path: /items, Method: post}}
        Files: {Type: Api, Properties: {Path: "/files/{proxy+}", Method: any}}
        Tick: {Type: Schedule, Properties: {Schedule: rate(1 minute)}}
"""

# An SQS-triggered function written for these tests: it appends every event it receives to
# received.jsonl beside itself (read with `received_events`) and reports a record failed while
# its receive count is at most the body's `fail_deliveries`. `main_handler` is its SCF entry.
QUEUE_ECHO_APP = """
import json
from pathlib import Path

from retouch.queue import run_scf_batch

RECEIVED = Path(__file__).with_name("received.jsonl")


def handler(event, context):
    with RECEIVED.open("a") as file:
        file.write(json.dumps({"event": event, "function": context.function_name}) + "\\n")
    return {
        "batchItemFailures": [
            {"itemIdentifier": record["messageId"]}
            for record in event["Records"]
            if int(record["attributes"]["ApproximateReceiveCount"])
            <= json.loads(record["body"]).get("fail_deliveries", 0)
        ]
    }


def main_handler(event, context):
    return run_scf_batch(event, handler, context)
"""

# The queue as the pipeline's queues are declared: `${AWS::StackName}-<name>`, a dead-letter
# queue in the RedrivePolicy. QUEUE_NAME is replaced by a name unique to the test.
QUEUE_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  EchoQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-QUEUE_NAME"
      VisibilityTimeout: 1
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt EchoDeadLetterQueue.Arn
        maxReceiveCount: 3
  EchoDeadLetterQueue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Sub "${AWS::StackName}-QUEUE_NAME-dlq"
  QueueEchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: queue_echo/
      Handler: app.handler
      Runtime: python3.11
      Events:
        Messages: {Type: SQS, Properties: {Queue: !GetAtt EchoQueue.Arn, BatchSize: 5}}
"""

QUEUE_TEMPLATE_MAX_RECEIVES = 3


def write_queue_echo(folder: Path, queue_name: str) -> Template:
    """QUEUE_TEMPLATE and QUEUE_ECHO_APP in `folder`, the queue named `queue_name`."""
    (folder / "queue_echo").mkdir()
    (folder / "queue_echo" / "app.py").write_text(QUEUE_ECHO_APP)
    (folder / "template.yaml").write_text(QUEUE_TEMPLATE.replace("QUEUE_NAME", queue_name))
    return load_template(folder / "template.yaml")


def received_events(template: Template) -> list[dict[str, Any]]:
    """What the queue echo function of `template` has received so far, in order."""
    received = template.path.parent / "queue_echo" / "received.jsonl"
    if not received.exists():
        return []
    return [json.loads(line) for line in received.read_text().splitlines()]


def run(
    command: list[str], *, env: dict[str, str], cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own scripts, fixed arguments
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def run_invoke(
    *arguments: str | Path, env: dict[str, str], cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    """`scripts/invoke FUNCTION EVENT_FILE [options]`; the response it prints is scanned for
    leaks with every other body of the suite."""
    result = run([str(INVOKE), *map(str, arguments)], env=env, cwd=cwd)
    if result.returncode == 0:
        record_printed_response(arguments[1], result.stdout)
    return result


def clean_environment() -> dict[str, str]:
    """This process's environment without any RETOUCH_* setting."""
    return {key: value for key, value in os.environ.items() if not key.startswith("RETOUCH_")}
