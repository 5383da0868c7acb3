"""Helpers shared by the local-runtime tests: a function that echoes its event, subprocess runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from scripts.lambda_runtime import ROOT
from scripts.sam import EVENTS
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
