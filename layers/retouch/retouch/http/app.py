"""The FastAPI app factory every HTTP function uses."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, request_response
from starlette.exceptions import HTTPException as StarletteHTTPException

import retouch
from retouch.core.errors import AppError
from retouch.core.ratelimit import RateLimiter
from retouch.core.redis import REDIS_UNAVAILABLE_ERRORS
from retouch.http.contract import check_operation_ids, declare_errors
from retouch.http.cors import SettingsCorsMiddleware
from retouch.http.middleware import RequestContextMiddleware
from retouch.http.problems import handle_exception
from retouch.http.rate_limits import check_route_limits

_HANDLED_ERRORS = (
    AppError,
    RequestValidationError,
    StarletteHTTPException,
    *REDIS_UNAVAILABLE_ERRORS,
)


def create_app(
    routers: Iterable[APIRouter],
    *,
    title: str = "Retouch API",
    rate_limiter: RateLimiter | None = None,
) -> FastAPI:
    """Build an app serving `routers` with the request-context middleware and problem errors.

    Its OpenAPI document declares every error each operation can return (`http/contract.py`).
    Browser origins of `RETOUCH_CORS_ORIGINS` get CORS headers (`http/cors.py`). Requests are
    rate limited by `rate_limiter`, by default the process's Redis limiter
    (`get_rate_limiter()`, resolved per request, so nothing connects here).
    """
    routers = list(routers)
    check_route_limits(route for router in routers for route in router.routes)
    routes = [route for router in routers for route in router.routes if isinstance(route, APIRoute)]
    check_operation_ids(routes)
    app = FastAPI(title=title, version=retouch.__version__)
    _add_routes(app, routers)
    app.state.rate_limiter = rate_limiter
    app.state.routers = routers
    _serve_contract(app, routes)
    for error_type in _HANDLED_ERRORS:
        app.add_exception_handler(error_type, handle_exception)
    app.add_middleware(RequestContextMiddleware)
    # Added last, so outermost: the request-context middleware's own answers get CORS headers.
    app.add_middleware(SettingsCorsMiddleware)
    return app


def _add_routes(app: FastAPI, routers: list[APIRouter]) -> None:
    """Serve each router's routes as they were built, not through `include_router`.

    FastAPI (0.162) keeps an included router as one entry and builds every one of its routes
    a second time (the dependant, the request and response fields) when it matches the first
    request: a function's cold start paid each route's build twice. A route built by a
    domain's router already holds what an inclusion without a prefix, tags or dependencies
    would give it, so a copy of it is bound to the app instead: only its request handler is
    made again, to read the app's `dependency_overrides`. Each app gets its own copies.
    """
    for router in routers:
        if router.on_startup or router.on_shutdown:
            raise ValueError(f"{router.prefix}: a router with event handlers must be included")
        for route in router.routes:
            if isinstance(route, APIRoute):
                route = copy.copy(route)
                route.dependency_overrides_provider = app
                route.app = request_response(route.get_route_handler())
            app.router.routes.append(route)


def _serve_contract(app: FastAPI, routes: list[APIRoute]) -> None:
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = declare_errors(build(), routes)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
