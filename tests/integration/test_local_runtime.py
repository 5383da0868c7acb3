"""The local runtime: `scripts/invoke`, the local API gateway, the scheduler and the stack."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from scripts.gateway import create_gateway
from scripts.lambda_runtime import ROOT, FakeLambdaContext
from scripts.sam import EVENTS, FunctionSpec, Template, load_handler, load_template
from scripts.scheduler import (
    Rate,
    ScheduleExpressionError,
    parse_schedule,
    run_schedules,
    scheduled_jobs,
)
from scripts.servers import free_port
from tests.conftest import Stack

pytestmark = pytest.mark.integration

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
    return run([str(INVOKE), *map(str, arguments)], env=env, cwd=cwd)


def clean_environment() -> dict[str, str]:
    """This process's environment without any RETOUCH_* setting."""
    return {key: value for key, value in os.environ.items() if not key.startswith("RETOUCH_")}


@pytest.fixture
def echo_template(tmp_path: Path) -> Template:
    (tmp_path / "echo").mkdir()
    (tmp_path / "echo" / "app.py").write_text(ECHO_APP)
    (tmp_path / "template.yaml").write_text(ECHO_TEMPLATE)
    return load_template(tmp_path / "template.yaml")


@pytest.fixture
def echo_client(stack: Stack, echo_template: Template) -> Iterator[TestClient]:
    with TestClient(create_gateway(echo_template), client=("198.51.100.9", 50000)) as client:
        yield client


@pytest.fixture(scope="module")
def health_client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(create_gateway(load_template())) as client:
        yield client


# --- scripts/invoke ---------------------------------------------------------------------


@pytest.mark.parametrize("event_file", EVENT_FILES, ids=lambda path: path.name)
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


# --- the gateway with the real functions -------------------------------------------------


def test_gateway_routes_a_request_to_the_real_handler(health_client: TestClient) -> None:
    # WHEN a client asks the gateway for the database health
    response = health_client.get("/health/db")

    # THEN HealthFunction answered it, through the same middleware as in the cloud
    assert response.status_code == 200
    assert response.json()["check"] == "db"
    assert response.headers["x-request-id"]
    assert response.headers["cache-control"] == "no-store"


def test_gateway_keeps_a_well_formed_client_request_id(health_client: TestClient) -> None:
    response = health_client.get("/health", headers={"X-Request-ID": "client-request-0001"})

    assert response.headers["x-request-id"] == "client-request-0001"


def test_gateway_answers_an_unknown_path_with_a_problem_json_404(
    health_client: TestClient,
) -> None:
    response = health_client.get(
        "/no/such/path", headers={"Accept-Language": "en", "X-Request-ID": "client-request-0002"}
    )

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] == "client-request-0002"
    problem = response.json()
    assert problem["code"] == "NOT_FOUND"
    assert problem["title"] == "Not found"
    assert problem["request_id"] == "client-request-0002"


def test_gateway_answers_a_wrong_method_with_405_and_allow(health_client: TestClient) -> None:
    response = health_client.delete("/health/db")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"


def test_gateway_serves_one_openapi_document_for_every_function(
    health_client: TestClient,
) -> None:
    document = health_client.get("/openapi.json").json()

    assert set(document["paths"]) >= HEALTH_PATHS
    assert "HealthRead" in document["components"]["schemas"]


def test_gateway_serves_swagger_ui_at_docs(health_client: TestClient) -> None:
    response = health_client.get("/docs")

    assert response.status_code == 200
    assert "swagger-ui" in response.text
    assert "/openapi.json" in response.text


# --- the gateway's events and responses, seen by a function that echoes its event --------


def echoed_event(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["event"]  # type: ignore[no-any-return]


def test_gateway_builds_a_rest_proxy_event_from_the_http_request(echo_client: TestClient) -> None:
    # WHEN a request with repeated query parameters and headers comes in
    response = echo_client.get(
        "/items/42?tag=a&tag=b&empty=",
        headers=[("X-Probe", "one"), ("X-Probe", "two"), ("X-Request-ID", "client-request-0003")],
    )

    # THEN the function received API Gateway's REST v1 proxy event for it
    event = echoed_event(response)
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "GET"
    assert event["pathParameters"] == {"id": "42"}
    assert event["queryStringParameters"] == {"tag": "b", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"tag": ["a", "b"], "empty": [""]}
    assert event["headers"]["x-probe"] == "two"
    assert event["multiValueHeaders"]["x-probe"] == ["one", "two"]
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["stage"] == "local"
    assert context["resourcePath"] == "/items/{id}"
    assert context["requestId"] == "client-request-0003"
    assert context["identity"]["sourceIp"] == "198.51.100.9"
    assert response.json()["function"] == "EchoFunction"


def test_gateway_prefers_a_static_route_over_a_path_parameter(echo_client: TestClient) -> None:
    event = echoed_event(echo_client.get("/items/special"))

    assert event["resource"] == "/items/special"
    assert event["pathParameters"] is None


def test_gateway_passes_a_json_body_as_text(echo_client: TestClient) -> None:
    event = echoed_event(echo_client.post("/items", json={"name": "猫"}))

    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"name": "猫"}


def test_gateway_passes_a_binary_body_base64_encoded(echo_client: TestClient) -> None:
    payload = bytes(range(256))

    event = echoed_event(
        echo_client.post("/items", content=payload, headers={"Content-Type": "image/png"})
    )

    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_gateway_merges_multi_value_headers_of_the_response(echo_client: TestClient) -> None:
    response = echo_client.get("/items/7")

    # multiValueHeaders win over headers for the same name, as on API Gateway
    assert response.headers.get_list("x-multi") == ["a", "b"]
    assert response.headers["x-single"] == "one"


def test_gateway_serves_a_greedy_route_and_decodes_a_binary_response(
    echo_client: TestClient,
) -> None:
    response = echo_client.put("/files/a/b/c.png")

    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content == b"\x89PNG\r\n\x1a\n\x00\xff"


# --- schedules -----------------------------------------------------------------------------


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


# --- the whole stack as a process ----------------------------------------------------------


def _processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that contain `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in command:
            found.append(command)
    return found


def _start_stack(data_dir: Path, ports: dict[str, int], log: Path) -> subprocess.Popen[bytes]:
    env = {
        **clean_environment(),
        "PYTHONPATH": f"{ROOT / 'layers' / 'retouch'}:{ROOT}",
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603 - our own module, fixed arguments
            [
                sys.executable,
                "-m",
                "scripts.stack",
                "--data-dir",
                str(data_dir),
                "--port",
                str(ports["http"]),
                "--db-port",
                str(ports["db"]),
                "--redis-port",
                str(ports["redis"]),
            ],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=output,
        )


def _wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"the stack did not come up:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        raise


def test_stack_serves_over_http_and_stops_cleanly_on_sigint(tmp_path: Path) -> None:
    # GIVEN a stack started as `python -m scripts.stack` on free ports with its own data folder
    data_dir, log = tmp_path / "local", tmp_path / "stack.log"
    ports = {"http": free_port(), "db": free_port(), "redis": free_port()}
    base_url = f"http://127.0.0.1:{ports['http']}"
    process = _start_stack(data_dir, ports, log)
    try:
        # WHEN it is up
        _wait_until_serving(process, f"{base_url}/health", log)

        # THEN it answers over real HTTP, also several requests at once
        with ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(
                pool.map(lambda _: httpx.get(f"{base_url}/health/db", timeout=10), range(12))
            )
        assert [response.status_code for response in responses] == [200] * 12
        assert all(response.headers["x-request-id"] for response in responses)
        env_file = (data_dir / "env").read_text()
        assert f"RETOUCH_DB_PORT={ports['db']}" in env_file

        # WHEN it receives SIGINT (Ctrl-C)
        exit_code = _stop(process)
    finally:
        if process.poll() is None:
            process.kill()

    # THEN it exits cleanly, its servers are gone and the env file with them
    assert exit_code == 0, log.read_text()
    assert _processes_mentioning(str(data_dir)) == []
    assert _processes_mentioning(f"127.0.0.1:{ports['redis']}") == []
    assert not (data_dir / "env").exists()
    output = log.read_text()
    assert "migrations applied: 1" in output
    assert "queue consumers: none" in output
    assert output.index("Shutting down") < output.index("stack: stopped")

    # WHEN it starts again on the same data folder
    restarted = _start_stack(data_dir, ports, log)
    try:
        _wait_until_serving(restarted, f"{base_url}/health/db", log)
    finally:
        assert _stop(restarted) == 0

    # THEN it reused the database: nothing left to migrate
    assert "migrations applied: 0" in log.read_text()


def test_stack_refuses_an_invalid_setting_with_one_line_naming_it(tmp_path: Path) -> None:
    # GIVEN an invalid explicit RETOUCH_* setting
    env = {**clean_environment(), "PYTHONPATH": f"{ROOT / 'layers' / 'retouch'}:{ROOT}"}
    env["RETOUCH_STAGE"] = "moon"

    # WHEN the stack starts
    result = run(
        [sys.executable, "-m", "scripts.stack", "--data-dir", str(tmp_path / "local")], env=env
    )

    # THEN it stops at once, before starting any server, naming the variable
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "RETOUCH_STAGE" in result.stderr
    assert not (tmp_path / "local").exists()
