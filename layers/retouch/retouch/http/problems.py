"""RFC 9457 problem details: every error response is built here, in one place."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from retouch.core.errors import (
    AppError,
    FieldError,
    InternalError,
    MalformedRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from retouch.core.errortracking import report_exception
from retouch.core.logging import logger
from retouch.core.messages import DEFAULT_LANGUAGE, known, localize
from retouch.core.redis import REDIS_UNAVAILABLE_ERRORS
from retouch.core.validation_messages import template_for

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://retouch.app/problems/"
# The most field errors one answer lists; `errors_omitted` counts the rest. Without a cap a
# body of 14k unknown keys answered 2.95 MB: the error would amplify the request.
MAX_FIELD_ERRORS = 50

# Framework-raised HTTP statuses and the registry error each one stands for.
_HTTP_STATUS_ERRORS: dict[int, type[AppError]] = {
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def negotiate_language(accept_language: str | None) -> str:
    """The language of the answer: zh-CN without a preference (or with `*`), else the
    supported language the client ranks highest, and `en` when it names only others."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    best, best_q = "", 0.0
    for part in accept_language.split(",")[:16]:
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        q = _quality(params)
        if q is None or q <= 0.0:
            continue
        language = {"en": "en", "zh": DEFAULT_LANGUAGE, "*": DEFAULT_LANGUAGE}.get(primary)
        if language is not None and q > best_q:
            best, best_q = language, q
    return best or "en"


def _quality(params: str) -> float | None:
    params = params.strip()
    if not params.startswith("q="):
        return 1.0
    try:
        return float(params[2:])
    except ValueError:
        return None


def problem_response(
    error: AppError, *, request_id: str | None, language: str, instance: str | None = None
) -> Response:
    """Render an AppError as problem+json in the client's language (`core.messages`)."""
    entry = error.error_code
    title = entry.message(language)
    detail = localize(error.template, language, error.context) if error.template else None
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + entry.code.lower().replace("_", "-"),
        "title": title,
        "status": entry.status,
        "detail": detail or title,
        "code": entry.code,
        "request_id": request_id,
    }
    if instance:
        body["instance"] = instance
    body.update(error.extensions)
    if error.errors:
        body["errors"] = [
            {
                "field": field_path(item.field.split(".") if item.field else ()),
                "code": item.type,
                "message": localize(item.message, language, item.params) or item.message,
            }
            for item in error.errors[:MAX_FIELD_ERRORS]
        ]
        omitted = len(error.errors) - MAX_FIELD_ERRORS
        if omitted > 0:
            body["errors_omitted"] = omitted
    return Response(
        content=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=entry.status,
        media_type=PROBLEM_CONTENT_TYPE,
        headers={**error.headers, "Content-Language": language},
    )


def _request_problem(request: Request, error: AppError) -> Response:
    state = request.scope.get("state") or {}
    return problem_response(
        error,
        request_id=state.get("request_id"),
        language=negotiate_language(request.headers.get("accept-language")),
        instance=request.url.path,
    )


def field_path(loc: Sequence[Any]) -> str:
    """One path style for every field: `body.inputs.mask`, `query.limit`,
    `header.idempotency-key` (header names are case-insensitive, so lower case). A path a
    domain gives without its part (`inputs.mask`, `credential_ref`) is in the body."""
    parts = [str(part) for part in loc]
    if not parts or parts[0] not in _LOCATIONS:
        parts = ["body", *parts]
    if parts[0] == "header":
        parts = [part.lower() for part in parts]
    return ".".join(parts)


def _field_error(item: Mapping[str, Any]) -> FieldError:
    kind = str(item.get("type", ""))
    context = item.get("ctx") or {}
    template = template_for(kind)
    if kind in ("value_error", "assertion_error") and known(str(context.get("error", ""))):
        template = str(context["error"])
    return FieldError(
        field=field_path(item.get("loc", ())),
        message=template,
        type=kind,
        params={name: _plain(value) for name, value in context.items()},
    )


def _plain(value: Any) -> Any:
    return value if isinstance(value, int | float | str) else str(value)


def _from_validation_error(exc: RequestValidationError) -> AppError:
    errors = exc.errors()
    if any(item.get("type") == "json_invalid" for item in errors):
        return MalformedRequest("The request body is not valid JSON")
    return ValidationFailed("The request is invalid", errors=[_field_error(i) for i in errors])


def _from_http_exception(exc: StarletteHTTPException) -> AppError:
    if isinstance(exc.__cause__, AppError):
        # FastAPI wraps any failure while reading the body (our size limit included) in a 400.
        return exc.__cause__
    error_class = _HTTP_STATUS_ERRORS.get(exc.status_code)
    if error_class is None:
        if exc.status_code >= 500:
            return InternalError()
        return MalformedRequest(str(exc.detail) if exc.detail else None)
    return error_class(headers=exc.headers)


def to_app_error(exc: BaseException) -> AppError:
    """Translate any exception into the registry error a client may see."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, RequestValidationError):
        return _from_validation_error(exc)
    if isinstance(exc, StarletteHTTPException):
        return _from_http_exception(exc)
    if isinstance(exc, REDIS_UNAVAILABLE_ERRORS):
        return ServiceUnavailable("cache unreachable")
    return InternalError()


async def handle_exception(request: Request, exc: Exception) -> Response:
    """The single exception handler registered for every error type."""
    error = to_app_error(exc)
    if error.error_code.status >= 500 and error is exc and exc.__cause__ is None:
        # A refusal the code chose (busy, a gateway it cannot reach): no trace to read.
        logger.warning("request refused", extra={"error_code": error.code})
    elif error.error_code.status >= 500:
        logger.exception("request failed", extra={"error_code": error.code})
    if error.error_code.status == 500 and error is not exc:
        report_exception(exc)  # a bug, not a refusal: to Sentry when it is on
    return _request_problem(request, error)
