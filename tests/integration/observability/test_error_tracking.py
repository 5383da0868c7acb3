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


def test_a_jobs_unhandled_error_reaches_the_ingest_tagged_and_is_raised_again(
    stack: Stack, ingest: Ingest, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the reaper job with a DSN set and MySQL unreachable (a port nothing listens on)
    host = ingest.url.removeprefix("http://")
    monkeypatch.setenv("RETOUCH_SENTRY_DSN", f"http://public-key@{host}/42")
    monkeypatch.setenv("RETOUCH_DB_PORT", str(free_port()))
    monkeypatch.setenv("RETOUCH_DB_PASSWORD", PASSWORD)
    reset_clients()
    reaper = load_function("functions/jobs/reaper/app.py")

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
