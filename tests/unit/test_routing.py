"""Plain `def` endpoints run inline on the invocation's event loop, never in a worker thread."""

from __future__ import annotations

import asyncio
import inspect

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

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
