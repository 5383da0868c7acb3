"""Entry-point adapters: one callable answers AWS API Gateway (REST v1 and HTTP API v2,
through Mangum's own handlers) and Tencent SCF API Gateway events (our handler below).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI
from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES
from mangum.handlers.utils import (
    get_server_and_port,
    handle_base64_response_body,
    maybe_encode_body,
    strip_api_gateway_path,
)
from mangum.types import LambdaConfig, LambdaContext, LambdaEvent, Response, Scope

from retouch.core.logging import invocation_keys, logger
from retouch.core.metrics import record_invocation
from retouch.http.routing import without_pydantic_v1

# Lambda passes a context object, SCF a dict; both reach Mangum unchanged.
LambdaHandler = Callable[[dict[str, Any], Any], dict[str, Any]]


class ScfApiGateway:
    """Mangum handler for Tencent SCF API Gateway events (integrated response).

    SCF events look like API Gateway REST events without `resource` or `version`; they carry
    `requestContext.serviceId`, the full query in `queryString`, and expect
    `{isBase64Encoded, statusCode, headers, body}` back, with lists for repeated headers.
    """

    @classmethod
    def infer(cls, event: LambdaEvent, context: LambdaContext, config: LambdaConfig) -> bool:
        request_context = event.get("requestContext")
        return (
            isinstance(request_context, dict)
            and "serviceId" in request_context
            and "httpMethod" in event
        )

    def __init__(self, event: LambdaEvent, context: LambdaContext, config: LambdaConfig) -> None:
        self.event = event
        self.context = context
        self.config = config

    @property
    def body(self) -> bytes:
        return maybe_encode_body(
            self.event.get("body") or b"", is_base64=bool(self.event.get("isBase64Encoded"))
        )

    @property
    def scope(self) -> Scope:
        headers = {
            str(key).lower(): str(value) for key, value in (self.event.get("headers") or {}).items()
        }
        query = self.event.get("queryString") or self.event.get("queryStringParameters") or {}
        return {
            "type": "http",
            "http_version": "1.1",
            "method": self.event["httpMethod"],
            "headers": [[key.encode(), value.encode()] for key, value in headers.items()],
            "path": strip_api_gateway_path(
                self.event.get("path") or "/",
                api_gateway_base_path=self.config["api_gateway_base_path"],
            ),
            "raw_path": None,
            "root_path": "",
            "scheme": headers.get("x-forwarded-proto", "https"),
            "query_string": urlencode(query, doseq=True).encode(),
            "server": get_server_and_port(headers),
            "client": (self.event["requestContext"].get("sourceIp"), 0),
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "aws.event": self.event,
            "aws.context": self.context,
        }

    def __call__(self, response: Response) -> dict[str, Any]:
        headers: dict[str, str | list[str]] = {}
        for raw_key, raw_value in response["headers"]:
            key, value = raw_key.decode().lower(), raw_value.decode()
            existing = headers.get(key)
            if existing is None:
                headers[key] = value
            elif isinstance(existing, list):
                existing.append(value)
            else:
                headers[key] = [existing, value]
        text_headers = {
            key: value if isinstance(value, str) else value[0] for key, value in headers.items()
        }
        body, is_base64 = handle_base64_response_body(
            response["body"], text_headers, self.config["text_mime_types"]
        )
        return {
            "isBase64Encoded": is_base64,
            "statusCode": response["status"],
            "headers": headers,
            "body": body,
        }


def make_handler(app: FastAPI) -> LambdaHandler:
    """The function entry point for both clouds: `handler(event, context) -> response`."""
    adapter = Mangum(
        app,
        lifespan="off",
        custom_handlers=[ScfApiGateway],
        text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, "application/problem+json"],
    )
    cold_start = True

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        nonlocal cold_start
        # Context-local: the local runtime runs invocations of several functions in threads.
        keys = invocation_keys(context)
        logger.thread_safe_append_keys(cold_start=cold_start, **keys)
        # Recorded now, flushed with the request's own metrics when the middleware ends it.
        record_invocation(cold_start=cold_start, function=keys["function_name"])
        if not cold_start:
            return adapter(event, context)
        cold_start = False
        # An included router's routes are built again on the first match (http/routing.py).
        with without_pydantic_v1():
            return adapter(event, context)

    return handler
