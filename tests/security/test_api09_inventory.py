"""API9:2023 Improper Inventory Management: the routes the stack serves are exactly the
routes its OpenAPI document describes, each function serves only the routes template.yaml
gives it, and no old version, stage, debug or test path answers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.security.conftest import Served, account, problem

pytestmark = [pytest.mark.integration, pytest.mark.security]

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
PROBES = [
    "/v0/tasks",
    "/v2/tasks",
    "/dev/v1/tasks",
    "/local/v1/tasks",
    "/v1/debug",
    "/debug/vars",
    "/v1/test",
    "/v1/internal/users",
    "/v1/admin",
    "/.env",
    "/actuator/health",
]
#: Served on purpose outside the API document: the operator console's page and its versioned
#: static files (AdminFunction; docs/operations.md "Operator console"), not API operations.
STATIC_ROUTES = {("GET", "/console"), ("GET", "/console/assets/{version}/{name}")}


def _documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    }


def _served_routes(served: Served) -> set[tuple[str, str]]:
    return {(target.route.method, target.route.path) for target in served.app.state.gateway.targets}


def test_the_served_routes_are_exactly_the_documented_ones(
    http: httpx.Client, served: Served
) -> None:
    document = http.get("/openapi.json").json()

    assert _documented(document) | STATIC_ROUTES == _served_routes(served)
    assert not _documented(document) & STATIC_ROUTES
    assert all(method != "ANY" for method, _ in _served_routes(served))


def test_each_function_documents_exactly_its_template_routes(served: Served) -> None:
    for function in served.app.state.gateway.functions:
        if function.app is None:
            continue
        declared = {
            (route.method, route.path)
            for route in function.spec.routes
            if route.method != "OPTIONS"  # the REST API's CORS preflights, answered by CORS
        }
        assert _documented(function.app.openapi()) == declared - STATIC_ROUTES, (
            function.spec.logical_id
        )


@pytest.mark.parametrize("path", PROBES)
def test_old_stage_debug_and_test_paths_are_404(http: httpx.Client, path: str) -> None:
    _, headers = account("admin")

    response = http.get(path, headers=headers)

    problem(response, 404, "NOT_FOUND")
