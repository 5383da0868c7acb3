"""Plain `def` endpoints run inline on the invocation's event loop, never in a worker thread."""

from __future__ import annotations

import asyncio
import inspect
from typing import Annotated

import pytest
from fastapi import Depends
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Route

from retouch.core.ratelimit import MemoryRateLimiter
from retouch.http import api_router, create_app
from scripts.local.lambda_runtime import load_function

router = api_router(prefix="/where")


@router.get("")
def where_am_i() -> dict[str, bool]:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return {"on_event_loop": False}
    return {"on_event_loop": True}


def test_def_endpoint_runs_on_the_event_loop_thread() -> None:
    with TestClient(create_app([router], rate_limiter=MemoryRateLimiter())) as client:
        response = client.get("/where")

    assert response.json() == {"on_event_loop": True}


def test_inline_endpoint_keeps_its_signature_for_validation_and_docs() -> None:
    (route,) = [item for item in router.routes if isinstance(item, APIRoute)]

    assert inspect.iscoroutinefunction(route.endpoint)
    assert route.endpoint.__wrapped__ is where_am_i  # type: ignore[attr-defined]
    assert route.endpoint.__name__ == "where_am_i"


def test_every_route_of_the_health_function_runs_inline() -> None:
    health = load_function("functions/http/health/app.py")
    schema_paths = set(health.app.openapi()["paths"])

    routes = [route for route in health.router.routes if isinstance(route, APIRoute)]

    assert {route.path for route in routes} == schema_paths
    assert all(inspect.iscoroutinefunction(route.endpoint) for route in routes)


def answer() -> str:
    return "the router's"


answers = api_router(prefix="/answer")


@answers.get("")
def which_answer(value: Annotated[str, Depends(answer)]) -> dict[str, str]:
    return {"value": value}


def test_an_app_serves_the_routes_as_built_and_never_builds_them_again() -> None:
    (built,) = [item for item in answers.routes if isinstance(item, APIRoute)]
    app = create_app([answers], rate_limiter=MemoryRateLimiter())

    with TestClient(app) as client:
        assert client.get("/answer").json() == {"value": "the router's"}

    # Every route is the app's own (no included router to build at the first match) and
    # shares the router's dependant and response field: nothing was built a second time.
    assert all(isinstance(item, Route) for item in app.router.routes)
    (served,) = [item for item in app.router.routes if isinstance(item, APIRoute)]
    assert served is not built
    assert served.dependant is built.dependant
    assert served.response_field is built.response_field


def test_each_app_built_from_a_router_honours_its_own_dependency_overrides() -> None:
    first = create_app([answers], rate_limiter=MemoryRateLimiter())
    second = create_app([answers], rate_limiter=MemoryRateLimiter())
    first.dependency_overrides[answer] = lambda: "the first app's"

    with TestClient(first) as one, TestClient(second) as other:
        assert one.get("/answer").json() == {"value": "the first app's"}
        assert other.get("/answer").json() == {"value": "the router's"}


def test_a_router_with_event_handlers_is_refused() -> None:
    with_startup = api_router(prefix="/started", on_startup=[lambda: None])

    with pytest.raises(ValueError, match="event handlers"):
        create_app([with_startup], rate_limiter=MemoryRateLimiter())
