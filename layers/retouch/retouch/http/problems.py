"""RFC 9457 problem details: every error response is built here, in one place."""

from __future__ import annotations

import json
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
from retouch.core.redis import REDIS_UNAVAILABLE_ERRORS

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://retouch.app/problems/"
DEFAULT_LANGUAGE = "zh-CN"
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


def negotiate_language(accept_language: str | None) -> str:
    """`en` when the client prefers English over Chinese, else zh-CN (the default)."""
    if not accept_language:
        return DEFAULT_LANGUAGE
    best, best_q = DEFAULT_LANGUAGE, -1.0
    for part in accept_language.split(",")[:16]:
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-")[0]
        if primary not in ("en", "zh"):
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                continue
        if q > best_q:
            best, best_q = ("en" if primary == "en" else DEFAULT_LANGUAGE), q
    return best


def problem_response(error: AppError, *, request_id: str | None, language: str) -> Response:
    """Render an AppError as problem+json in the client's language."""
    entry = error.error_code
    title = entry.message(language)
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + entry.code.lower().replace("_", "-"),
        "title": title,
        "status": entry.status,
        "detail": error.detail or title,
        "code": entry.code,
        "request_id": request_id,
    }
    if error.errors:
        body["errors"] = [
            {"field": item.field, "message": item.message, "type": item.type}
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
    )


def _from_validation_error(exc: RequestValidationError) -> AppError:
    errors = exc.errors()
    if any(item.get("type") == "json_invalid" for item in errors):
        return MalformedRequest("The request body is not valid JSON")
    return ValidationFailed(
        errors=[
            FieldError(
                field=".".join(str(part) for part in item.get("loc", ())),
                message=str(item.get("msg", "")),
                type=str(item.get("type", "")),
            )
            for item in errors
        ]
    )


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
    if error.error_code.status >= 500:
        logger.exception("request failed", extra={"error_code": error.code})
    if error.error_code.status == 500 and error is not exc:
        report_exception(exc)  # a bug, not a refusal: to Sentry when it is on
    return _request_problem(request, error)
