"""The FastAPI app factory every HTTP function uses."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

import retouch
from retouch.core.errors import AppError
from retouch.core.redis import REDIS_UNAVAILABLE_ERRORS
from retouch.http.middleware import RequestContextMiddleware
from retouch.http.problems import handle_exception

_HANDLED_ERRORS = (
    AppError,
    RequestValidationError,
    StarletteHTTPException,
    *REDIS_UNAVAILABLE_ERRORS,
)


def create_app(routers: Iterable[APIRouter], *, title: str = "Retouch API") -> FastAPI:
    """Build an app serving `routers` with the request-context middleware and problem errors."""
    app = FastAPI(title=title, version=retouch.__version__)
    for router in routers:
        app.include_router(router)
    for error_type in _HANDLED_ERRORS:
        app.add_exception_handler(error_type, handle_exception)
    app.add_middleware(RequestContextMiddleware)
    return app
