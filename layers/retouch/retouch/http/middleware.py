"""The one ASGI middleware every function runs: request id, per-IP rate limit, body limit,
security headers, access log, metrics (flushed when due at the end of each request), and the
last-resort 500.

The request id is always ours (`retouch.core.request_context`): the platform's id of the
request, else a new UUID4, echoed in `X-Request-ID`. A client's `X-Request-ID` never replaces
it; when printable and at most 128 characters it is kept as `client_request_id` (a log key on
every line of the request and an audit column).

Written as plain ASGI (not BaseHTTPMiddleware) because it sits on every request's hot path.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from retouch.core.errors import AppError, InternalError, PayloadTooLarge, UnsupportedMediaType
from retouch.core.errortracking import report_exception
from retouch.core.ids import client_request_id, is_valid_request_id, new_request_id
from retouch.core.logging import SERVICE, logger
from retouch.core.metrics import get_recorder
from retouch.core.request_context import RequestIds, bind_request_ids, unbind_request_ids
from retouch.core.settings import get_settings
from retouch.http.problems import negotiate_language, problem_response, to_app_error
from retouch.http.rate_limits import add_rate_limit_headers, enforce_client_limit
from retouch.http.security_headers import add_security_headers

REQUEST_ID_HEADER = "x-request-id"
UNMATCHED_ROUTE = "unmatched"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _is_json(content_type: str | None) -> bool:
    """JSON is the API's only body type; a missing type is read as JSON."""
    if content_type is None:
        return True
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _request_ids(headers: Headers, scope: Scope) -> RequestIds:
    return RequestIds(
        server=_server_request_id(scope), client=client_request_id(headers.get(REQUEST_ID_HEADER))
    )


def _server_request_id(scope: Scope) -> str:
    # Behind API Gateway, reuse its id (the gateway made it, not the client) so our logs join
    # the platform's.
    event = scope.get("aws.event") or {}
    platform_id = (event.get("requestContext") or {}).get("requestId")
    if isinstance(platform_id, str) and is_valid_request_id(platform_id):
        return platform_id
    return new_request_id()


#: scope["state"] entry: what a route adds to its access line (e.g. the task a create made),
#: instead of a log line of its own.
ACCESS_KEYS_STATE = "access_keys"


def route_template(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED_ROUTE


class RequestContextMiddleware:
    """Outermost application middleware; see the module docstring."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = Headers(scope=scope)
        ids = _request_ids(headers, scope)
        request_id = ids.server
        scope.setdefault("state", {}).update(request_id=request_id, client_request_id=ids.client)
        bound = bind_request_ids(ids, scope)
        # Context-local keys: the local gateway serves several requests at once in threads.
        logger.thread_safe_append_keys(
            request_id=request_id, **({"client_request_id": ids.client} if ids.client else {})
        )
        response: dict[str, Any] = {"status": 500, "started": False}
        encoded_request_id = request_id.encode()

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
                response["started"] = True
                sent = [*message.get("headers", []), (b"x-request-id", encoded_request_id)]
                add_rate_limit_headers(sent, scope)
                add_security_headers(sent, scope, headers)
                message["headers"] = sent
            await send(message)

        try:
            # Before anything else, so that every request counts, refused ones included.
            enforce_client_limit(scope, headers.get("authorization"))
            limit = get_settings().max_body_bytes
            declared = headers.get("content-length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise PayloadTooLarge("The request body exceeds {limit} bytes", limit=limit)
            if scope["method"] in _BODY_METHODS and not _is_json(headers.get("content-type")):
                raise UnsupportedMediaType("Send the request body as application/json")
            await self.app(scope, _limited(receive, limit), send_with_request_id)
        except Exception as exc:  # noqa: BLE001 - the last resort: nothing escapes as a raw 500
            error = to_app_error(exc)
            if not isinstance(exc, AppError) or isinstance(error, InternalError):
                logger.exception("unhandled exception")
            if isinstance(error, InternalError) and error is not exc:
                report_exception(exc)
            if response["started"]:
                return
            await _send_problem(error, request_id, headers, send_with_request_id, scope)
        finally:
            _record(scope, response["status"], started)
            logger.thread_safe_remove_keys(["request_id", "client_request_id", "user_id"])
            unbind_request_ids(bound)


def _limited(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receive_within_limit() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise PayloadTooLarge("The request body exceeds {limit} bytes", limit=limit)
        return message

    return receive_within_limit


async def _send_problem(
    error: AppError, request_id: str, headers: Headers, send: Send, scope: Scope
) -> None:
    response = problem_response(
        error,
        request_id=request_id,
        language=negotiate_language(headers.get("accept-language")),
        instance=scope.get("path"),
    )
    await response({"type": "http"}, _no_body, send)


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


def _record(scope: Scope, status: int, started: float) -> None:
    """One access log line and one metric set per request (`core/metrics.py`; one EMF line
    on AWS)."""
    latency_ms = round((time.perf_counter() - started) * 1000, 3)
    route = f"{scope['method']} {route_template(scope)}"
    state = scope.get("state") or {}
    user = state.get("user_id")
    logger.info(
        "request",
        extra={
            "method": scope["method"],
            "route": route_template(scope),
            "status": status,
            "latency_ms": latency_ms,
            **({"user_id": user} if user else {}),
            **state.get(ACCESS_KEYS_STATE, {}),
        },
    )
    recorder = get_recorder()
    # `service` last: the EMF line keeps the dimension order it always had.
    dimensions = {"route": route, "service": SERVICE}
    recorder.record("Requests", 1, "Count", dimensions)
    recorder.record("Latency", latency_ms, "Milliseconds", dimensions)
    recorder.record("Errors4xx", int(400 <= status < 500), "Count", dimensions)
    recorder.record("Errors5xx", int(status >= 500), "Count", dimensions)
    # The response is built and sent: this request's invocation ends here (flush if due).
    recorder.end_invocation()
