"""The local API gateway: real handlers behind REST proxy events, one OpenAPI document."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from scripts.local.gateway import create_gateway
from scripts.local.sam import Template, load_template
from scripts.local.servers import serving_app
from tests.integration.local_runtime import (
    HEALTH_PATHS,
)

pytestmark = pytest.mark.integration


def test_gateway_routes_a_request_to_the_real_handler(health_client: TestClient) -> None:
    # WHEN a client asks the gateway for the database health
    response = health_client.get("/health/db")

    # THEN HealthFunction answered it, through the same middleware as in the cloud
    assert response.status_code == 200
    assert response.json()["check"] == "db"
    assert response.headers["x-request-id"]
    assert response.headers["cache-control"] == "no-store"


def test_gateway_answers_with_its_own_request_id_whatever_the_client_sent(
    health_client: TestClient,
) -> None:
    response = health_client.get("/health", headers={"X-Request-ID": "client-request-0001"})

    assert uuid.UUID(response.headers["x-request-id"]).version == 4


def test_gateway_answers_an_unknown_path_with_a_problem_json_404(
    health_client: TestClient,
) -> None:
    response = health_client.get(
        "/no/such/path", headers={"Accept-Language": "en", "X-Request-ID": "client-request-0002"}
    )

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["x-request-id"] != "client-request-0002"
    problem = response.json()
    assert problem["code"] == "NOT_FOUND"
    assert problem["title"] == "Not found"
    assert problem["request_id"] == response.headers["x-request-id"]


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
    # the platform's id is the gateway's own; the client's label stays a header
    assert uuid.UUID(context["requestId"]).version == 4
    assert event["headers"]["x-request-id"] == "client-request-0003"
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


def test_gateway_passes_an_encoded_newline_in_a_path_parameter_to_the_function(
    echo_client: TestClient,
) -> None:
    event = echoed_event(echo_client.get("/items/a%0Ab"))

    assert event["pathParameters"] == {"id": "a\nb"}
    assert event["path"] == "/items/a\nb"


def test_gateway_answers_a_path_shaped_like_its_own_with_a_problem_from_the_functions(
    echo_client: TestClient,
) -> None:
    # GIVEN paths the gateway serves itself, asked with another method or not routable there
    for method, path in (("POST", "/openapi.json"), ("GET", "/_storage/a%0Ab")):
        # WHEN they come in
        response = echo_client.request(method, path)

        # THEN the template's routes answered them (none matches): problem+json, not Starlette
        assert response.status_code == 404, (method, path)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "NOT_FOUND"


def test_gateway_answers_a_wrong_method_on_a_parameter_route_with_405_and_allow(
    echo_client: TestClient,
) -> None:
    response = echo_client.delete("/items/42")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET"
    assert response.headers["content-type"] == "application/problem+json"


def test_gateway_never_hands_a_function_a_body_the_client_cut_short(
    echo_template: Template,
) -> None:
    # GIVEN a client that sends half a JSON body and goes away
    app = create_gateway(echo_template)
    halves: list[Message] = [
        {"type": "http.request", "body": b'{"name": "ca', "more_body": True},
        {"type": "http.disconnect"},
    ]
    messages = iter(halves)
    sent: list[Message] = []

    async def receive() -> Message:
        return next(messages)

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/items",
        "raw_path": b"/items",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "client": ("198.51.100.9", 50000),
        "server": ("local", 80),
    }

    async def serve() -> None:
        async with app.state.gateway.lifespan(app):
            await app(scope, receive, send)

    # WHEN the gateway serves it
    asyncio.run(serve())

    # THEN the function was never called with the half body: nothing was answered
    assert sent == []


# Two functions written for the next test: Busy answers once a file exists beside it, Quick at
# once. Busy stands for a function whose requests hold every worker (hashing passwords).
BUSY_APP = """
import json
import pathlib
import time

RELEASE = pathlib.Path(__file__).with_name("release")


def handler(event, context):
    while not RELEASE.exists():
        time.sleep(0.01)
    return {"statusCode": 200, "body": json.dumps({"function": context.function_name})}
"""

QUICK_APP = """
import json


def handler(event, context):
    return {"statusCode": 200, "body": json.dumps({"function": context.function_name})}
"""

TWO_FUNCTIONS_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  BusyFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: busy/
      Handler: app.handler
      Runtime: python3.11
      Events:
        Busy: {Type: Api, Properties: {Path: /busy, Method: get}}
  QuickFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: quick/
      Handler: app.handler
      Runtime: python3.11
      Events:
        Quick: {Type: Api, Properties: {Path: /quick, Method: get}}
"""


def test_a_function_holding_every_worker_never_delays_another_function(
    tmp_path: Path,
) -> None:
    for name, source in (("busy", BUSY_APP), ("quick", QUICK_APP)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "app.py").write_text(source)
    (tmp_path / "template.yaml").write_text(TWO_FUNCTIONS_TEMPLATE)
    gateway = create_gateway(load_template(tmp_path / "template.yaml"), workers=2)
    with serving_app(gateway) as url, ThreadPoolExecutor(max_workers=6) as pool:
        # GIVEN more requests to Busy than the gateway has workers, all of them waiting
        busy = [pool.submit(httpx.get, f"{url}/busy", timeout=30) for _ in range(6)]
        try:
            # WHEN another function is asked while Busy holds its every worker
            quick = httpx.get(f"{url}/quick", timeout=10)
            # THEN it answers at once: its requests do not queue behind Busy's
            assert quick.status_code == 200
            assert quick.json() == {"function": "QuickFunction"}
            assert not any(future.done() for future in busy)
        finally:
            (tmp_path / "busy" / "release").touch()
        assert [future.result().status_code for future in busy] == [200] * 6
