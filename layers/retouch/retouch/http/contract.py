"""The OpenAPI contract: which errors each operation declares, derived from the route itself.

FastAPI documents success responses; everything an operation can answer with a problem is
added here from one table, so a route added anywhere gets its error declarations from what it
is made of, not from a hand-kept list:

- every operation: 429 (the per-IP limit runs before routing), 500, 503;
- POST, PUT and PATCH: 413 and 415 (the middleware's body limits); a JSON body adds 400;
- any body or parameter: 422; a path parameter: 404;
- the bearer scheme anywhere in the dependency tree: 401 (and `security` from FastAPI; an
  operation without it gets `security: []`, public);
- an endpoint or dependency marked `@raises(SomeError, ...)` (`core.errors.raises`): those codes.

FastAPI's own 422 schema (`HTTPValidationError`) leaves the document: the server never sends
it. Operation ids are `<tag>_<endpoint name without the tag's word>` (`tasks_create`) unless a
route names its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security.http import HTTPBearer

from retouch.core.errors import RAISES_ATTRIBUTE, REGISTRY

PROBLEM = "application/problem+json"
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_ALWAYS = ("RATE_LIMITED", "INTERNAL", "SERVICE_UNAVAILABLE")
_FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _dependants(dependant: Dependant) -> Iterator[Dependant]:
    yield dependant
    for child in dependant.dependencies:
        yield from _dependants(child)


def error_codes(route: APIRoute, method: str) -> list[str]:
    """Every error code `method` on `route` can answer with, in registry order."""
    codes = set(_ALWAYS)
    tree = list(_dependants(route.dependant))
    if method in _BODY_METHODS:
        codes |= {"PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE"}
    if route.body_field is not None:
        codes |= {"MALFORMED_REQUEST", "VALIDATION_FAILED"}
    if any(d.query_params or d.header_params or d.path_params or d.cookie_params for d in tree):
        codes.add("VALIDATION_FAILED")
    if route.dependant.path_params or any(d.path_params for d in tree):
        codes.add("NOT_FOUND")
    if is_authenticated(route):
        codes |= {"UNAUTHENTICATED", "TOKEN_EXPIRED"}
    for dependant in tree:
        codes.update(getattr(dependant.call, RAISES_ATTRIBUTE, ()))
    return [code for code in REGISTRY if code in codes]


def is_authenticated(route: APIRoute) -> bool:
    """Whether the route's dependency tree asks for the bearer token."""
    return any(isinstance(d.call, HTTPBearer) for d in _dependants(route.dependant))


def operation_id(route: APIRoute) -> str:
    """The route's own operation id, else `<tag>_<endpoint name without the tag's word>`."""
    if route.operation_id:
        return route.operation_id
    tag = str(route.tags[0]) if route.tags else "api"
    own = {tag, tag.rstrip("s")}
    words = [word for word in route.name.split("_") if word not in own]
    return "_".join([tag, *words])


def check_operation_ids(routes: Iterable[APIRoute]) -> None:
    """Refuse two operations with one id: generated clients would name two methods alike."""
    seen: dict[str, str] = {}
    for route in routes:
        name = operation_id(route)
        where = f"{sorted(route.methods or ())} {route.path}"
        if name in seen:
            raise ValueError(f"operation id {name!r} of {where} is also {seen[name]}'s")
        seen[name] = where


def response_name(codes: list[str]) -> str:
    """The component name of the response listing `codes`: `UnauthenticatedOrTokenExpired`."""
    return "Or".join(code.title().replace("_", "") for code in codes)


def problem_response(codes: list[str]) -> dict[str, Any]:
    """One status's response object: the Problem schema, its codes and their headers."""
    entry = REGISTRY[codes[0]]
    headers: dict[str, Any] = {
        name: {"$ref": f"#/components/headers/{name}"}
        for name in ("X-Request-ID", "Content-Language", *RATE_LIMIT_HEADERS)
    }
    if entry.status == 429:
        headers["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    if entry.status == 401:
        headers["WWW-Authenticate"] = {"$ref": "#/components/headers/WWW-Authenticate"}
    example = {
        "type": "https://retouch.app/problems/" + entry.code.lower().replace("_", "-"),
        "title": entry.en,
        "status": entry.status,
        "detail": entry.en,
        "code": entry.code,
        "request_id": "8d7c5e0e-2f4b-4c51-9a57-3d2f0c6b1e21",
    }
    listed = ", ".join(f"`{code}`" for code in codes)
    return {
        "description": f"{entry.en} ({listed})",
        "headers": headers,
        "content": {
            PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}, "example": example}
        },
    }


def declare_errors(document: dict[str, Any], routes: Iterable[APIRoute]) -> dict[str, Any]:
    """Add every operation's problem responses, ids and security to FastAPI's `document`."""
    used: dict[str, list[str]] = {}
    for route in routes:
        if not route.include_in_schema:
            continue
        for method in sorted(route.methods or ()):
            operation = document["paths"][route.path_format][method.lower()]
            for codes in _declare(operation, route, method):
                used[response_name(codes)] = codes
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_SCHEMAS:
        schemas.pop(name, None)
    schemas.update(problem_schemas())
    responses = document["components"].setdefault("responses", {})
    for name, codes in sorted(used.items()):
        responses[name] = problem_response(codes)
    document["components"].setdefault("headers", {}).update(HEADERS)
    document["components"].setdefault("parameters", {}).update(PARAMETERS)
    return document


def _declare(operation: dict[str, Any], route: APIRoute, method: str) -> list[list[str]]:
    operation["operationId"] = operation_id(route)
    responses = operation.setdefault("responses", {})
    for status in [key for key in responses if int(key) >= 400]:
        del responses[status]
    by_status: dict[int, list[str]] = {}
    for code in error_codes(route, method):
        by_status.setdefault(REGISTRY[code].status, []).append(code)
    for status, codes in sorted(by_status.items()):
        responses[str(status)] = {"$ref": f"#/components/responses/{response_name(codes)}"}
    for response in responses.values():
        if "$ref" in response:
            continue
        headers = response.setdefault("headers", {})
        for name in ("X-Request-ID", *RATE_LIMIT_HEADERS):
            headers.setdefault(name, {"$ref": f"#/components/headers/{name}"})
    if not is_authenticated(route):
        operation["security"] = []
    parameters = operation.setdefault("parameters", [])
    if not any(p.get("name", "").lower() == "accept-language" for p in parameters):
        parameters.append({"$ref": "#/components/parameters/Accept-Language"})
    return list(by_status.values())


RATE_LIMIT_HEADERS = ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")


def _header(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "schema": schema}


HEADERS: dict[str, Any] = {
    "X-Request-ID": _header(
        "The request's id, also in problem bodies and every log line.", {"type": "string"}
    ),
    "Content-Language": _header(
        "The language of `title`, `detail` and messages.", {"type": "string"}
    ),
    "Retry-After": _header("Seconds until the limit admits a request again.", {"type": "integer"}),
    "WWW-Authenticate": _header("`Bearer`: send an access token.", {"type": "string"}),
    "RateLimit-Limit": _header(
        "Requests the tightest limit allows per window.", {"type": "integer"}
    ),
    "RateLimit-Remaining": _header("Requests left in the window.", {"type": "integer"}),
    "RateLimit-Reset": _header("Seconds until the window resets.", {"type": "integer"}),
}

PARAMETERS: dict[str, Any] = {
    "Accept-Language": {
        "name": "Accept-Language",
        "in": "header",
        "required": False,
        "description": "`zh-CN` (the default) or `en`: the language of problem texts.",
        "schema": {"type": "string", "example": "en"},
    }
}


def problem_schemas() -> dict[str, Any]:
    """The `Problem` schema (RFC 9457 with our members), its field errors and `ErrorCode`."""
    return {
        "ErrorCode": {
            "type": "string",
            "enum": list(REGISTRY),
            "description": "Stable error codes; each fixes the HTTP status and the message.",
        },
        "FieldError": {
            "type": "object",
            "required": ["field", "message"],
            "properties": {
                "field": {"type": "string", "description": "Path of the input, dot-separated."},
                "code": {"type": "string", "description": "What is wrong, machine-readable."},
                "type": {"type": "string", "description": "What is wrong, machine-readable."},
                "message": {"type": "string", "description": "What is wrong, for people."},
            },
        },
        "Problem": {
            "type": "object",
            "description": "An error, as RFC 9457 problem details; more members may be added.",
            "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": {"type": "string", "format": "uri"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 400, "maximum": 599},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "code": {"$ref": "#/components/schemas/ErrorCode"},
                "request_id": {"type": ["string", "null"]},
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
                "errors_omitted": {"type": "integer", "minimum": 1},
                "needed": {"type": "integer", "description": "QUOTA_EXCEEDED: credits needed."},
                "balance": {"type": "integer", "description": "QUOTA_EXCEEDED: credits held."},
            },
            "additionalProperties": True,
        },
    }
