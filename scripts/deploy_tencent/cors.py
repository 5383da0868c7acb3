"""CORS at API Gateway: a preflight on SCF never reaches a function (an API answers one method,
and API Gateway takes no OPTIONS API), so the gateway answers it with a `Cors` plugin of the
stage, bound to every API of the service in the released environment. Its origins are the
functions' RETOUCH_CORS_ORIGINS, its headers and max age the app's (retouch.http.cors); it is
created once, then modified in place (a plugin takes effect without a release). With no
origins, no plugin is made.

Tencent's plugin allows only GET, PUT, POST, DELETE and HEAD: a browser cannot send PATCH
(the admin routes that use it are called from a browser only on AWS).

APIs (API Gateway API 2018-08-08; docs/deploy-tencent.md cites each page): DescribePlugins,
CreatePlugin, ModifyPlugin, DescribePluginApis, AttachPlugin.
"""

from __future__ import annotations

import json
from typing import Any

from retouch.http.cors import ALLOWED_HEADERS, ALLOWED_METHODS, EXPOSED_HEADERS, PREFLIGHT_MAX_AGE_S
from scripts.deploy_tencent.api import TencentApi
from scripts.deploy_tencent.config import Plan

#: The methods Tencent's CORS plugin takes.
PLUGIN_METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
_PAGE = 100


def plugin_name(plan: Plan) -> str:
    """The stage's plugin (letters, digits and `_`, starting with a letter, ≤ 50)."""
    return f"retouch_{plan.stage}_cors"


def origins(plan: Plan) -> list[str]:
    """The origins the functions allow (the same variable on every function)."""
    values = {f.environment.get("RETOUCH_CORS_ORIGINS", "") for f in plan.functions.values()}
    (value,) = values or {""}
    return [origin.strip() for origin in value.split(",") if origin.strip()]


def plugin_data(allowed: list[str]) -> str:
    """The plugin's definition: the app's CORS answer, credentials off."""
    return json.dumps(
        {
            "allow_origin": allowed,
            "allow_methods": [m for m in ALLOWED_METHODS if m in PLUGIN_METHODS],
            "allow_headers": list(ALLOWED_HEADERS),
            "expose_headers": list(EXPOSED_HEADERS),
            "allow_credentials": False,
            "max_age": PREFLIGHT_MAX_AGE_S,
        },
        separators=(",", ":"),
    )


def _existing(api: TencentApi, name: str) -> dict[str, Any] | None:
    found = api.call(
        "apigateway", "DescribePlugins", {"PluginName": name, "PluginType": "Cors", "Limit": _PAGE}
    )["Result"]
    return next((p for p in found.get("PluginSet") or [] if p["PluginName"] == name), None)


def _attached(api: TencentApi, plugin_id: str) -> set[str]:
    listed = api.listed("apigateway", "DescribePluginApis", {"PluginId": plugin_id}, "AttachedApis")
    return {item["ApiId"] for item in listed}


def sync_cors(api: TencentApi, plan: Plan, service_id: str, api_ids: set[str]) -> dict[str, Any]:
    """Create or modify the stage's plugin and bind it to the APIs not yet bound; answers what
    it did ({} without origins)."""
    allowed = origins(plan)
    if not allowed:
        return {}
    name, data = plugin_name(plan), plugin_data(allowed)
    plugin = _existing(api, name)
    if plugin is None:
        plugin = api.call(
            "apigateway",
            "CreatePlugin",
            {"PluginName": name, "PluginType": "Cors", "PluginData": data},
        )["Result"]
        done = "created"
    else:
        api.call(
            "apigateway",
            "ModifyPlugin",
            {"PluginId": plugin["PluginId"], "PluginName": name, "PluginData": data},
        )
        done = "modified"
    unbound = sorted(api_ids - _attached(api, plugin["PluginId"]))
    if unbound:
        api.call(
            "apigateway",
            "AttachPlugin",
            {
                "PluginId": plugin["PluginId"],
                "ServiceId": service_id,
                "EnvironmentName": plan.api_environment,
                "ApiIds": unbound,
            },
        )
    return {"plugin": done, "attached": len(unbound)}
