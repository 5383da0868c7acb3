"""API Gateway's side of a deploy: one service per stage, one API per route whose backend is
the route's SCF function with integrated response, released to the stage's environment.

An existing API (same method and path) is modified in place, an undeclared one deleted, so the
service always holds exactly the routes of deploy/tencent.yml.

APIs (API Gateway API 2018-08-08; docs/deploy-tencent.md cites each page):
DescribeServicesStatus, CreateService, DescribeApisStatus, CreateApi, ModifyApi, DeleteApi,
ReleaseService.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from scripts.deploy_tencent.api import TencentApi
from scripts.deploy_tencent.config import Function, Plan

_PATH_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_PAGE = 100


def ensure_service(api: TencentApi, plan: Plan) -> dict[str, Any]:
    """The stage's service ({ServiceId, OuterSubDomain, ...}), created when missing."""
    listed = api.call(
        "apigateway",
        "DescribeServicesStatus",
        {"Filters": [{"Name": "ServiceName", "Values": [plan.api_service]}], "Limit": _PAGE},
    )
    for service in listed["Result"].get("ServiceSet") or []:
        if service["ServiceName"] == plan.api_service:
            return dict(service)
    return api.call(
        "apigateway",
        "CreateService",
        {
            "ServiceName": plan.api_service,
            "Protocol": "https",
            "ServiceDesc": f"retouch {plan.stage}",
            "NetTypes": ["OUTER"],
        },
    )


def api_name(function: Function, method: str, path: str) -> str:
    """A name unique within the service and within API Gateway's 60 characters."""
    slug = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    name = f"{function.key}_{method.lower()}_{slug}"
    return (
        name if len(name) <= 60 else f"{name[:51]}_{hashlib.sha256(name.encode()).hexdigest()[:8]}"
    )


def api_fields(function: Function, plan: Plan, method: str, path: str) -> dict[str, Any]:
    """The fields of one route's API: SCF backend, integrated response, no gateway auth
    (the functions authenticate callers), the path's parameters declared."""
    return {
        "ServiceType": "SCF",
        "ServiceTimeout": plan.api_timeout,
        "Protocol": "HTTPS",
        "RequestConfig": {"Path": path, "Method": method},
        "ApiName": api_name(function, method, path),
        "AuthType": "NONE",
        "ServiceScfFunctionName": function.name,
        "ServiceScfFunctionNamespace": plan.namespace,
        "ServiceScfFunctionQualifier": "$LATEST",
        "ServiceScfIsIntegratedResponse": True,
        "RequestParameters": [
            {"Name": name, "Position": "PATH", "Type": "string", "Required": True}
            for name in _PATH_PARAMETER.findall(path)
        ],
    }


def existing_apis(api: TencentApi, service_id: str) -> dict[tuple[str, str], str]:
    """(method, path) → ApiId of every API of the service."""
    listed = api.listed(
        "apigateway", "DescribeApisStatus", {"ServiceId": service_id}, "ApiIdStatusSet"
    )
    return {(item["Method"].upper(), item["Path"]): item["ApiId"] for item in listed}


def sync_apis(api: TencentApi, plan: Plan, service_id: str) -> dict[str, int]:
    """Create, modify and delete APIs until the service routes exactly the declared routes,
    then release it; answers how many APIs each action touched."""
    existing = existing_apis(api, service_id)
    counts = {"created": 0, "modified": 0, "deleted": 0}
    for function in plan.functions.values():
        for trigger in function.triggers:
            for method, path in trigger.routes:
                fields = {"ServiceId": service_id, **api_fields(function, plan, method, path)}
                api_id = existing.pop((method, path), None)
                if api_id is None:
                    api.call("apigateway", "CreateApi", fields)
                    counts["created"] += 1
                else:
                    api.call("apigateway", "ModifyApi", {**fields, "ApiId": api_id})
                    counts["modified"] += 1
    for api_id in existing.values():
        api.call("apigateway", "DeleteApi", {"ServiceId": service_id, "ApiId": api_id})
        counts["deleted"] += 1
    api.call(
        "apigateway",
        "ReleaseService",
        {
            "ServiceId": service_id,
            "EnvironmentName": plan.api_environment,
            "ReleaseDesc": f"retouch {plan.stage}",
        },
    )
    return counts
