"""One handler, three platforms: AWS REST (v1), AWS HTTP API (v2) and Tencent SCF API Gateway.

A small app built with the same factory as every function exercises what the sample events do
not: query strings, headers, JSON and binary bodies, repeated response headers, unknown routes.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from retouch.http import create_app, make_handler
from scripts.local.lambda_runtime import FakeLambdaContext
from tests.conftest import LogLines, Stack

pytestmark = pytest.mark.integration

SHAPES = ["aws_rest", "aws_http", "scf_apigw"]


class GreetingCreate(BaseModel):
    name: str
    times: int


router = APIRouter()


@router.post("/greetings", status_code=201)
def create_greeting(greeting: GreetingCreate) -> dict[str, Any]:
    return {"text": " ".join([f"hello {greeting.name}"] * greeting.times)}


@router.get("/echo")
def echo(request: Request) -> dict[str, Any]:
    return {
        "query": sorted(request.query_params.multi_items()),
        "probe": request.headers.get("x-probe"),
        "language": request.headers.get("accept-language"),
    }


@router.get("/tags")
def tags(response: Response) -> dict[str, str]:
    response.headers.append("X-Tag", "first")
    response.headers.append("X-Tag", "second")
    return {"status": "ok"}


handler = make_handler(create_app([router], title="adapter probe"))


def platform_event(
    shape: str,
    method: str,
    path: str,
    *,
    query: list[tuple[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """A minimal but complete event of `shape` for one request; `base64_body` sends the body
    base64-encoded, as API Gateway does for binary types (SCF: for every body, when enabled)."""
    query, headers = query or [], {"Host": "api.example.com", **(headers or {})}
    is_base64 = body is not None and base64_body
    text = (
        None if body is None else (base64.b64encode(body).decode() if is_base64 else body.decode())
    )
    request_id = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        multi_query.setdefault(name, []).append(value)
    if shape == "aws_rest":
        return {
            "resource": path,
            "path": path,
            "httpMethod": method,
            "headers": headers,
            "multiValueHeaders": {name: [value] for name, value in headers.items()},
            "queryStringParameters": {name: values[-1] for name, values in multi_query.items()}
            or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": None,
            "stageVariables": None,
            "requestContext": {
                "requestId": request_id,
                "stage": "dev",
                "identity": {"sourceIp": "203.0.113.7"},
            },
            "body": text,
            "isBase64Encoded": is_base64,
        }
    if shape == "aws_http":
        raw_query = "&".join(f"{name}={value}" for name, value in query)
        return {
            "version": "2.0",
            "routeKey": f"{method} {path}",
            "rawPath": path,
            "rawQueryString": raw_query,
            "headers": {name.lower(): value for name, value in headers.items()},
            "requestContext": {
                "requestId": request_id,
                "http": {"method": method, "path": path, "sourceIp": "203.0.113.7"},
                "stage": "$default",
            },
            "body": text,
            "isBase64Encoded": is_base64,
        }
    return {
        "requestContext": {
            "serviceId": "service-f94sy04v",
            "path": path,
            "httpMethod": method,
            "requestId": request_id,
            "identity": {},
            "sourceIp": "10.0.2.14",
            "stage": "release",
        },
        "headers": headers,
        "body": text or "",
        "isBase64Encoded": is_base64,
        "pathParameters": {},
        "queryStringParameters": {},
        "headerParameters": {},
        "stageVariables": {"stage": "release"},
        "path": path,
        "queryString": {
            name: values[0] if len(values) == 1 else values for name, values in multi_query.items()
        },
        "httpMethod": method,
    }


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    return handler(event, FakeLambdaContext())


def body_of(response: dict[str, Any]) -> Any:
    raw = response["body"]
    return json.loads(base64.b64decode(raw) if response["isBase64Encoded"] else raw)


def header(response: dict[str, Any], name: str) -> Any:
    return {key.lower(): value for key, value in response["headers"].items()}.get(name)


@pytest.mark.parametrize("shape", SHAPES)
def test_the_same_app_answers_every_platform_shape(stack: Stack, shape: str) -> None:
    # GIVEN one request in the event shape of each platform
    event = platform_event(
        shape, "GET", "/echo", query=[("size", "2")], headers={"X-Probe": "blue"}
    )

    # WHEN the one handler receives it
    response = invoke(event)

    # THEN every platform gets the same answer, with the request id
    assert response["statusCode"] == 200
    assert body_of(response) == {"query": [["size", "2"]], "probe": "blue", "language": None}
    assert header(response, "x-request-id")


def test_scf_adapter_passes_the_whole_query_string_and_the_headers(stack: Stack) -> None:
    # GIVEN an SCF event whose queryString repeats a parameter
    event = platform_event(
        "scf_apigw",
        "GET",
        "/echo",
        query=[("tag", "a"), ("tag", "b"), ("q", "猫 cat")],
        headers={"X-Probe": "green", "Accept-Language": "en"},
    )

    # WHEN it is handled
    response = invoke(event)

    # THEN the app saw every value and the headers
    assert body_of(response) == {
        "query": [["q", "猫 cat"], ["tag", "a"], ["tag", "b"]],
        "probe": "green",
        "language": "en",
    }


def test_scf_adapter_passes_a_json_post_body_to_the_pydantic_model(stack: Stack) -> None:
    # GIVEN an SCF POST with a JSON body
    event = platform_event(
        "scf_apigw",
        "POST",
        "/greetings",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"name": "ada", "times": 2}).encode(),
    )

    # WHEN it is handled
    response = invoke(event)

    # THEN the route's model received it
    assert response["statusCode"] == 201
    assert body_of(response) == {"text": "hello ada hello ada"}


def test_scf_adapter_rejects_an_invalid_post_body_with_problem_json(stack: Stack) -> None:
    event = platform_event(
        "scf_apigw",
        "POST",
        "/greetings",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"name": "ada", "times": "many"}).encode(),
    )

    response = invoke(event)

    assert response["statusCode"] == 422
    assert header(response, "content-type") == "application/problem+json"
    assert body_of(response)["code"] == "VALIDATION_FAILED"


def test_scf_adapter_decodes_a_base64_body(stack: Stack) -> None:
    # GIVEN an SCF event whose UTF-8 JSON body API Gateway passed base64-encoded
    payload = json.dumps({"name": "阿达", "times": 1}, ensure_ascii=False).encode()
    event = platform_event(
        "scf_apigw",
        "POST",
        "/greetings",
        headers={"Content-Type": "application/json"},
        body=payload,
        base64_body=True,
    )
    assert event["isBase64Encoded"] is True
    assert event["body"] == base64.b64encode(payload).decode()

    # WHEN it is handled
    response = invoke(event)

    # THEN the app received the decoded bytes
    assert response["statusCode"] == 201
    assert body_of(response) == {"text": "hello 阿达"}


def test_scf_response_lists_the_values_of_a_repeated_header(stack: Stack) -> None:
    response = invoke(platform_event("scf_apigw", "GET", "/tags"))

    assert set(response) == {"isBase64Encoded", "statusCode", "headers", "body"}
    assert header(response, "x-tag") == ["first", "second"]
    assert isinstance(header(response, "content-type"), str)


def test_rest_response_puts_a_repeated_header_in_multi_value_headers(stack: Stack) -> None:
    response = invoke(platform_event("aws_rest", "GET", "/tags"))

    assert response["multiValueHeaders"]["x-tag"] == ["first", "second"]


@pytest.mark.parametrize("shape", SHAPES)
def test_unknown_route_is_a_problem_json_404_in_every_shape(stack: Stack, shape: str) -> None:
    # GIVEN a request for a path no route serves
    event = platform_event(shape, "GET", "/no/such/route", headers={"Accept-Language": "en"})

    # WHEN it is handled
    response = invoke(event)

    # THEN it is the registry's NOT_FOUND problem, with the request id
    assert response["statusCode"] == 404
    assert header(response, "content-type") == "application/problem+json"
    problem = body_of(response)
    assert problem["code"] == "NOT_FOUND"
    assert problem["title"] == "Not found"
    assert problem["request_id"] == header(response, "x-request-id")


def test_log_lines_name_the_function_and_the_cold_start(stack: Stack, log_lines: LogLines) -> None:
    # GIVEN a fresh handler (a new instance, as after a cold start)
    fresh = make_handler(create_app([router], title="cold start probe"))

    # WHEN it serves a Lambda invocation, then an SCF one (whose context is a dict)
    fresh(platform_event("aws_rest", "GET", "/echo"), FakeLambdaContext())
    fresh(
        platform_event("scf_apigw", "GET", "/echo"),
        {"function_name": "retouch-health-dev", "request_id": "scf-request-0001"},
    )

    # THEN each access line carries the function, the platform request id and cold_start
    first, second = log_lines.with_message("request")
    assert (first["function_name"], first["cold_start"]) == (
        FakeLambdaContext.function_name,
        True,
    )
    assert first["function_request_id"] == FakeLambdaContext.aws_request_id
    assert (second["function_name"], second["cold_start"]) == ("retouch-health-dev", False)
    assert second["function_request_id"] == "scf-request-0001"
