"""CORS on AWS's gateways agrees with the app (retouch.http.cors) for the one CorsOrigins
list: the HTTP API answers preflights with the app's methods, headers and max age; the REST
API routes OPTIONS on every path to the function serving it (whose app answers, and the app
answers a preflight on any of its paths); the functions get the same origins; the uploads
bucket takes the browser's direct uploads from them. With no origins, none of it exists."""

from __future__ import annotations

import functools
from collections import defaultdict
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retouch.core.settings import get_settings
from retouch.http.cors import ALLOWED_HEADERS, ALLOWED_METHODS, EXPOSED_HEADERS, PREFLIGHT_MAX_AGE_S
from scripts.local.lambda_runtime import load_function
from scripts.local.sam import TEMPLATE, load_template
from tests.unit.cfn_support import translated

ORIGINS = "https://app.retouch.example,http://localhost:5173"


@functools.cache
def _resources(origins: str) -> dict[str, Any]:
    resources: dict[str, Any] = translated(TEMPLATE, {"CorsOrigins": origins})["Resources"]
    return resources


def _rest_routes() -> dict[str, dict[str, set[str]]]:
    """path → function → the REST methods it serves there."""
    routes: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for spec in load_template().functions:
        for route in spec.routes:
            if route.event_type == "Api":
                routes[route.path][spec.logical_id].add(route.method)
    return routes


def test_every_rest_path_routes_options_to_the_function_serving_it() -> None:
    routes = _rest_routes()

    assert routes
    for path, functions in routes.items():
        # one function per path, and it takes the path's preflights too
        ((_, methods),) = functions.items()
        assert "OPTIONS" in methods, path
        assert methods - {"OPTIONS"}, path


def _http_api_cors(origins: str) -> dict[str, Any] | None:
    # SAM writes the HTTP API's CorsConfiguration into its OpenAPI body
    (api,) = [r for r in _resources(origins).values() if r["Type"] == "AWS::ApiGatewayV2::Api"]
    cors: dict[str, Any] | None = api["Properties"]["Body"].get("x-amazon-apigateway-cors")
    return cors


def test_the_http_api_answers_preflights_as_the_app_does() -> None:
    cors = _http_api_cors(ORIGINS)

    assert cors is not None
    # (translated here with the list's value as given: CloudFormation resolves the parameter)
    origins = cors["allowOrigins"]
    assert (origins.split(",") if isinstance(origins, str) else origins) == ORIGINS.split(",")
    assert cors["allowMethods"] == list(ALLOWED_METHODS)
    assert cors["allowHeaders"] == [h.lower() for h in ALLOWED_HEADERS]
    assert cors["exposeHeaders"] == [h.lower() for h in EXPOSED_HEADERS]
    assert cors["maxAge"] == PREFLIGHT_MAX_AGE_S
    assert cors["allowCredentials"] is False
    # every method a route uses is allowed
    used = {route.method for spec in load_template().functions for route in spec.routes}
    assert used - {"OPTIONS"} <= set(ALLOWED_METHODS)


def test_functions_and_the_uploads_bucket_take_the_same_origins() -> None:
    resources = _resources(ORIGINS)
    functions = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Function"]
    (rule,) = resources["UploadsBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]

    assert functions
    for function in functions:
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["RETOUCH_CORS_ORIGINS"] == {"Fn::Join": [",", {"Ref": "CorsOrigins"}]}
    assert rule["AllowedOrigins"] == {"Ref": "CorsOrigins"}
    assert set(rule["AllowedMethods"]) == {"POST", "PUT"}
    assert "*" not in rule["AllowedOrigins"]


def test_without_origins_no_gateway_or_bucket_allows_any() -> None:
    assert _http_api_cors("") is None
    assert "CorsConfiguration" not in _resources("")["UploadsBucket"]["Properties"]


@pytest.mark.parametrize("path", ["/v1/tasks", "/v1/tasks/{task_id}/cancel", "/v1/me/quota"])
def test_the_app_behind_a_rest_options_route_answers_the_preflight(
    monkeypatch: pytest.MonkeyPatch, path: str
) -> None:
    # GIVEN the function that serves the path, with the origins configured
    monkeypatch.setenv("RETOUCH_CORS_ORIGINS", ORIGINS)
    get_settings.cache_clear()
    ((function, _),) = _rest_routes()[path].items()
    spec = next(s for s in load_template().functions if s.logical_id == function)
    concrete = path.replace("{task_id}", "7")

    # WHEN a browser's preflight reaches it through the OPTIONS route
    with TestClient(load_function(spec.module_file).app) as client:
        allowed = client.options(
            concrete,
            headers={
                "Origin": "https://app.retouch.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization, idempotency-key",
            },
        )
        refused = client.options(
            concrete,
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )

    # THEN the allowed origin may send it, another may not
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.retouch.example"
    assert "access-control-allow-origin" not in refused.headers
