"""Error tracking end to end: an unhandled error in a route reaches a loopback fake of
Sentry's ingest as an envelope whose event has the exception with its stack frames, the
release / environment / request-id tags, and no PII anywhere in the raw body; the client
still gets a problem+json 500 without a trace. A job's unhandled error (Lambda and SCF entry
points) is reported with the function's tags and still raised. With no DSN the SDK is never
even imported."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import retouch
from retouch.bootstrap.clients import reset_clients
from retouch.core.ratelimit import MemoryRateLimiter
from retouch.http import api_router, create_app
from scripts.local.lambda_runtime import ROOT, load_function
from scripts.local.servers import free_port, serving_app
from tests.conftest import Stack
from tests.integration.cfn_support import answer_receiver
from tests.log_scan_plugin import TEST_PASSWORDS

pytestmark = pytest.mark.integration

EMAIL = "mei.chen@example.com"
TOKEN = "tok_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCd"
IMAGE_URL = "https://retouch-uploads.cos.ap-shanghai.myqcloud.com/uploads/u1/photo.png?sign=q-sig"
PASSWORD = TEST_PASSWORDS[0]

router = api_router(prefix="/sentry-probe")


@router.get("/crash")
def crash() -> None:
    owner, url = EMAIL, IMAGE_URL  # locals a careless SDK would send
    raise RuntimeError(f"cannot render {url} for {owner}: password={PASSWORD} token={TOKEN}")


@dataclass
class Ingest:
    url: str = ""
    bodies: list[bytes] = field(default_factory=list)

    def events(self) -> list[dict[str, Any]]:
        found = []
        for body in self.bodies:
            _, *items = body.split(b"\n")
            for header, payload in zip(items[::2], items[1::2], strict=False):
                if json.loads(header).get("type") == "event":
                    found.append(json.loads(payload))
        return found


@pytest.fixture
def ingest() -> Iterator[Ingest]:
    fake = Ingest()

    async def envelope(request: Request) -> JSONResponse:
        raw = await request.body()
        encoding = request.headers.get("content-encoding", "")
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        assert encoding in ("", "gzip", "deflate"), encoding
        fake.bodies.append(raw)
        return JSONResponse({"id": "0" * 32})

    app = Starlette(routes=[Route("/api/{project}/envelope/", envelope, methods=["POST"])])
    with serving_app(app) as url:
        fake.url = url
        yield fake


def test_an_unhandled_error_reaches_the_ingest_scrubbed(
    stack: Stack, ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = ingest.url.removeprefix("http://")
    monkeypatch.setenv("RETOUCH_SENTRY_DSN", f"http://public-key@{host}/42")
    monkeypatch.setenv("RETOUCH_SENTRY_ENVIRONMENT", "it")
    reset_clients()
    app = create_app([router], rate_limiter=MemoryRateLimiter())
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/sentry-probe/crash", headers={"Authorization": f"Bearer {TOKEN}"})

    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in response.text and "RuntimeError" not in response.text
    assert response.json()["code"] == "INTERNAL"

    (event,) = ingest.events()
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    frames = exception["stacktrace"]["frames"]
    assert frames[-1]["function"] == "crash"
    assert frames[-1]["filename"].endswith("test_error_tracking.py")
    assert "vars" not in frames[-1]
    assert event["tags"]["request_id"] == response.headers["x-request-id"]
    assert event["tags"]["service"] == "retouch"
    assert event["environment"] == "it"
    assert event["release"] == f"retouch@{retouch.__version__}"

    raw = b"".join(ingest.bodies).decode()
    for pii in (EMAIL, TOKEN, "myqcloud.com", "q-sig", PASSWORD):
        assert pii not in raw, pii
    assert "m***@example.com" in exception["value"] and "<url>" in exception["value"]
    reset_clients()


SCF_CONTEXT = {"function_name": "retouch-reaper", "request_id": "r-2"}


@dataclass
class LambdaContext:
    function_name: str = "retouch-reaper"
    aws_request_id: str = "6f1c2a90-1d2e-4b5f-8a7c-0e9d8c7b6a54"


def failing_function(path: str, ingest: Ingest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The function at `path` with a DSN naming the ingest and MySQL unreachable (a port
    nothing listens on)."""
    host = ingest.url.removeprefix("http://")
    monkeypatch.setenv("RETOUCH_SENTRY_DSN", f"http://public-key@{host}/42")
    monkeypatch.setenv("RETOUCH_DB_PORT", str(free_port()))
    monkeypatch.setenv("RETOUCH_DB_PASSWORD", PASSWORD)
    reset_clients()
    return load_function(path)


def test_a_jobs_unhandled_error_reaches_the_ingest_tagged_and_is_raised_again(
    stack: Stack, ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the reaper job with a DSN set and MySQL unreachable (a port nothing listens on)
    reaper = failing_function("functions/jobs/reaper/app.py", ingest, monkeypatch)

    # WHEN EventBridge runs it on Lambda, and a timer runs it on SCF
    with pytest.raises(Exception) as on_lambda:
        reaper.handler({"source": "aws.events"}, LambdaContext())
    with pytest.raises(Exception) as on_scf:
        reaper.main_handler(
            {"Type": "Timer"}, {"function_name": "retouch-reaper", "request_id": "r-2"}
        )

    # THEN each failure is raised again for the platform, and reported once with its stack
    # trace and the function's tags, and no secret in the raw envelope
    assert type(on_lambda.value).__name__ == type(on_scf.value).__name__
    first, second = ingest.events()
    assert first["exception"]["values"][-1]["type"] == type(on_lambda.value).__name__
    assert first["exception"]["values"][-1]["stacktrace"]["frames"]
    assert first["tags"]["function"] == "retouch-reaper"
    assert first["tags"]["function_request_id"] == LambdaContext.aws_request_id
    assert first["tags"]["service"] == "retouch"
    assert second["tags"]["function_request_id"] == "r-2"
    raw = b"".join(ingest.bodies).decode()
    assert PASSWORD not in raw
    reset_clients()


def test_without_a_dsn_the_sdk_is_never_imported() -> None:
    script = (
        "import sys\n"
        "from fastapi.testclient import TestClient\n"
        "from tests.probe_app import build_probe_app\n"
        "from retouch.core.ratelimit import MemoryRateLimiter\n"
        "client = TestClient(build_probe_app(rate_limiter=MemoryRateLimiter()),"
        " raise_server_exceptions=False)\n"
        "assert client.get('/probe/boom').status_code == 500\n"
        "print('sentry_sdk' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("RETOUCH_SENTRY")}
    env["PYTHONPATH"] = f"{ROOT / 'layers' / 'retouch'}:{ROOT}"
    result = subprocess.run(  # noqa: S603 - our interpreter, our script
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False"


def _step_record(message_id: str, body: str) -> dict[str, Any]:
    """One SQS record of a step queue as Lambda delivers it."""
    return {
        "messageId": message_id,
        "receiptHandle": f"rh-{message_id}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:retouch-steps-prepare",
        "awsRegion": "eu-west-1",
    }


TASK_A, TASK_B = "tsk_" + "A" * 22, "tsk_" + "B" * 22


def _step(task_id: str) -> str:
    return json.dumps({"task_id": task_id, "step": "prepare"})


def _batch(*records: tuple[str, str]) -> dict[str, Any]:
    """The SQS event of `(message id, body)` records."""
    return {"Records": [_step_record(message_id, body) for message_id, body in records]}


def _step_with_sentry(ingest: Ingest, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The prepare step function with a DSN set and MySQL unreachable: a step message for a
    task fails (an outage, worth a redelivery)."""
    return failing_function("functions/steps/prepare/app.py", ingest, monkeypatch)


def test_each_failed_record_of_a_step_batch_is_reported_once_and_the_batch_answer_is_unchanged(
    stack: Stack, ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a batch of three: a step of a task (MySQL is down: it fails), a message that is
    # not ours (dropped: it succeeds) and a body that is not JSON (it fails)
    step = _step_with_sentry(ingest, monkeypatch)
    not_ours, not_json = json.dumps({"hello": EMAIL}), f"not json {EMAIL}"
    event = _batch(("m-1", _step(TASK_A)), ("m-2", not_ours), ("m-3", not_json))

    # WHEN Lambda runs the step function on it
    response = step.handler(event, LambdaContext(function_name="retouch-prepare"))

    # THEN the partial-failure answer names the two failed records, as before
    assert response == {"batchItemFailures": [{"itemIdentifier": "m-1"}, {"itemIdentifier": "m-3"}]}
    # and each failed record reached the ingest once, tagged with its message id (and its
    # task and step when the body names them) and the function; no batch-level report
    first, second = ingest.events()
    assert first["tags"]["message_id"] == "m-1"
    assert (first["tags"]["task_id"], first["tags"]["step"]) == (TASK_A, "prepare")
    assert first["tags"]["function"] == "retouch-prepare"
    assert first["tags"]["function_request_id"] == LambdaContext.aws_request_id
    assert first["exception"]["values"][-1]["stacktrace"]["frames"]
    assert second["tags"]["message_id"] == "m-3" and "task_id" not in second["tags"]
    assert second["exception"]["values"][-1]["type"] == "JSONDecodeError"
    raw = b"".join(ingest.bodies).decode()
    for pii in (EMAIL, PASSWORD):
        assert pii not in raw, pii
    reset_clients()


def test_when_every_record_fails_each_is_reported_once_and_the_batch_is_raised(
    stack: Stack, ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN two step messages while MySQL is down
    step = _step_with_sentry(ingest, monkeypatch)
    event = _batch(("m-1", _step(TASK_A)), ("m-2", _step(TASK_B)))

    # WHEN the step function runs it: Powertools raises for a batch whose every record failed
    with pytest.raises(Exception) as raised:
        step.handler(event, LambdaContext(function_name="retouch-prepare"))

    # THEN the whole batch comes back, and the ingest got one event per record, none for the
    # batch's own error
    assert type(raised.value).__name__ == "BatchProcessingError"
    events = ingest.events()
    assert [e["tags"]["message_id"] for e in events] == ["m-1", "m-2"]
    assert [e["tags"]["task_id"] for e in events] == [TASK_A, TASK_B]
    reset_clients()


def test_on_scf_a_failed_record_is_reported_once_and_the_trigger_retries_the_batch(
    stack: Stack, ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN a CMQ trigger event of two records: a step of a task (MySQL is down: it fails)
    # and a message that is not ours (dropped)
    step = _step_with_sentry(ingest, monkeypatch)
    records = [("c-1", _step(TASK_A)), ("c-2", json.dumps({"hello": "world"}))]
    event = {
        "Records": [
            {"CMQ": {"type": "queue", "queueName": "steps-prepare", "msgId": i, "msgBody": b}}
            for i, b in records
        ]
    }

    # WHEN SCF runs the step function on it
    with pytest.raises(Exception) as raised:
        step.main_handler(event, {"function_name": "retouch-steps-prepare", "request_id": "r-7"})

    # THEN the batch is raised for the trigger to deliver again (SCF has no partial answer),
    # and the failed record alone reached the ingest, once, with its ids
    assert type(raised.value).__name__ == "BatchFailed"
    (event_sent,) = ingest.events()
    assert event_sent["tags"]["message_id"] == "c-1"
    assert event_sent["tags"]["task_id"] == TASK_A
    assert event_sent["tags"]["function_request_id"] == "r-7"
    reset_clients()


def test_the_migrate_functions_unhandled_error_is_reported_once_and_raised_again(
    stack: Stack, ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the migrate function with a DSN set and MySQL unreachable
    migrate = failing_function("functions/jobs/migrate/app.py", ingest, monkeypatch)

    # WHEN it is invoked by hand on Lambda (handler → main_handler) and on SCF
    with pytest.raises(Exception) as on_lambda:
        migrate.handler({"first_admin_email": EMAIL}, LambdaContext(function_name="migrate"))
    with pytest.raises(Exception) as on_scf:
        migrate.main_handler({}, {"function_name": "retouch-migrate", "request_id": "r-9"})

    # THEN each failure is raised again and reported exactly once (the two wrapped entry
    # points do not send the Lambda one twice), tagged with its function, without PII
    assert type(on_lambda.value).__name__ == type(on_scf.value).__name__
    first, second = ingest.events()
    assert first["exception"]["values"][-1]["type"] == type(on_lambda.value).__name__
    assert (first["tags"]["function"], second["tags"]["function"]) == ("migrate", "retouch-migrate")
    assert second["tags"]["function_request_id"] == "r-9"
    raw = b"".join(ingest.bodies).decode()
    for pii in (EMAIL, PASSWORD):
        assert pii not in raw, pii
    reset_clients()


def test_a_migration_that_fails_under_cloudformation_is_answered_failed_and_reported(
    stack: Stack, ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the migrate function with a DSN set and MySQL unreachable, run by the stack's
    # `Migrations` custom resource
    migrate = failing_function("functions/jobs/migrate/app.py", ingest, monkeypatch)
    with answer_receiver() as (url, received):
        request = {
            "RequestType": "Update",
            "ResponseURL": url,
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/retouch-dev/0f1e",
            "RequestId": "req-1",
            "LogicalResourceId": "Migrations",
            "ResourceProperties": {"FirstAdminEmail": EMAIL},
        }

        # WHEN CloudFormation sends the update
        answer = migrate.handler(request, LambdaContext(function_name="migrate"))

    # THEN CloudFormation hears FAILED (the deploy rolls back), and the error was reported
    # once with the function's tags
    assert answer["Status"] == "FAILED" and [r["body"]["Status"] for r in received] == ["FAILED"]
    (event,) = ingest.events()
    assert event["tags"]["function"] == "migrate"
    assert event["exception"]["values"][-1]["stacktrace"]["frames"]
    assert EMAIL not in b"".join(ingest.bodies).decode()
    reset_clients()
