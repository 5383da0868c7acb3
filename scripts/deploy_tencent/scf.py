"""SCF's side of a deploy: the namespace, layer versions, functions and their triggers, and the
migration function's invocation. Every step reads first and writes only what differs, so a
second deploy of the same sources updates in place and publishes nothing new.

APIs (SCF API 2018-04-16; docs/deploy-tencent.md cites each page): ListNamespaces,
CreateNamespace, ListLayerVersions, PublishLayerVersion, GetFunction, CreateFunction,
UpdateFunctionCode, UpdateFunctionConfiguration, UpdateFunctionEventInvokeConfig,
ListTriggers, CreateTrigger, DeleteTrigger, Invoke.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from scripts.deploy_tencent.api import CloudError, TencentApi, invoke_result
from scripts.deploy_tencent.config import Function, Plan
from scripts.deploy_tencent.package import Package

#: Uploads a package too large to send inline and answers SCF's `Code` fields for it.
Uploader = Callable[[Package], dict[str, str]]
_SETTLE_POLLS = 90


def code_fields(package: Package, upload: Uploader) -> dict[str, str]:
    """SCF's `Code` for a package: inline (`ZipFile`, base64) or an object of the code bucket."""
    if package.inline:
        import base64

        return {"ZipFile": base64.b64encode(package.data).decode()}
    return upload(package)


def ensure_namespace(api: TencentApi, plan: Plan) -> None:
    listed = api.call("scf", "ListNamespaces", {"Limit": 100})
    if plan.namespace not in {item["Name"] for item in listed.get("Namespaces", [])}:
        api.call("scf", "CreateNamespace", {"Namespace": plan.namespace, "Description": "retouch"})


def publish_layer(api: TencentApi, package: Package, plan: Plan, upload: Uploader) -> int:
    """The layer version holding exactly this zip: the newest one if its description carries
    the zip's sha256, else a new version."""
    marker = f"sha256:{package.sha256}"
    try:
        versions = api.call("scf", "ListLayerVersions", {"LayerName": package.name})[
            "LayerVersions"
        ]
    except CloudError as exc:
        if not exc.code.startswith("ResourceNotFound"):
            raise
        versions = []
    newest = max(versions, key=lambda version: version["LayerVersion"], default=None)
    if newest is not None and marker in (newest.get("Description") or ""):
        return int(newest["LayerVersion"])
    published = api.call(
        "scf",
        "PublishLayerVersion",
        {
            "LayerName": package.name,
            "CompatibleRuntimes": [plan.runtime],
            "Content": code_fields(package, upload),
            "Description": f"retouch {plan.stage} {marker}",
        },
    )
    return int(published["LayerVersion"])


def _configuration(function: Function, plan: Plan, layers: dict[str, int]) -> dict[str, Any]:
    return {
        "FunctionName": function.name,
        "Namespace": plan.namespace,
        "Description": f"retouch {function.key} {plan.stage}",
        "MemorySize": function.memory,
        "Timeout": function.timeout,
        "Runtime": plan.runtime,
        "Role": plan.role,
        "Environment": {
            "Variables": [
                {"Key": key, "Value": value} for key, value in sorted(function.environment.items())
            ]
        },
        "VpcConfig": {"VpcId": plan.vpc_id, "SubnetId": plan.subnet_id},
        # Every function logs to the stage's CLS topic, whose Period is the logs' retention.
        "ClsLogsetId": plan.cls_logset_id,
        "ClsTopicId": plan.cls_topic_id,
        "Layers": [
            {"LayerName": plan.layers[name].name, "LayerVersion": layers[name]}
            for name in function.layers
        ],
    }


def _settled(api: TencentApi, function: Function, plan: Plan) -> dict[str, Any]:
    """GetFunction once the function's last change has settled (Status Active)."""
    for _ in range(_SETTLE_POLLS):
        found = api.call(
            "scf", "GetFunction", {"FunctionName": function.name, "Namespace": plan.namespace}
        )
        if found.get("Status") not in (
            "Creating",
            "Updating",
            "Publishing",
            "UpdatingAndPublishing",
        ):
            if found.get("Status") not in (None, "Active"):
                raise CloudError(
                    "GetFunction", found["Status"], found.get("StatusDesc") or function.name
                )
            return found
        time.sleep(2)
    raise CloudError("GetFunction", "Timeout", f"{function.name} did not settle")


def upsert_function(
    api: TencentApi,
    function: Function,
    package: Package,
    plan: Plan,
    layers: dict[str, int],
    upload: Uploader,
) -> str:
    """Create the function, or update its code and then its configuration; answers which."""
    configuration = _configuration(function, plan, layers)
    code = code_fields(package, upload)
    try:
        api.call("scf", "GetFunction", {"FunctionName": function.name, "Namespace": plan.namespace})
    except CloudError as exc:
        if not exc.code.startswith("ResourceNotFound"):
            raise
        api.call(
            "scf",
            "CreateFunction",
            {**configuration, "Code": code, "Handler": function.handler, "Type": "Event"},
        )
        _settled(api, function, plan)
        return "created"
    _settled(api, function, plan)
    api.call(
        "scf",
        "UpdateFunctionCode",
        {
            "FunctionName": function.name,
            "Namespace": plan.namespace,
            "Handler": function.handler,
            **code,
        },
    )
    _settled(api, function, plan)
    api.call("scf", "UpdateFunctionConfiguration", configuration)
    _settled(api, function, plan)
    return "updated"


def configure_async_invoke(api: TencentApi, function: Function, plan: Plan) -> bool:
    """Set the function's retry policy for asynchronous invocations, when it declares one (the
    step functions: each step message is one); True when it was set. The call replaces the
    policy, so a second deploy sets the same one again."""
    if function.async_invoke is None:
        return False
    api.call(
        "scf",
        "UpdateFunctionEventInvokeConfig",
        {
            "FunctionName": function.name,
            "Namespace": plan.namespace,
            "AsyncTriggerConfig": {
                "RetryConfig": [{"RetryNum": function.async_invoke.retries}],
                "MsgTTL": function.async_invoke.message_ttl_s,
            },
        },
    )
    return True


def sync_triggers(api: TencentApi, function: Function, plan: Plan) -> list[str]:
    """Make the function's SCF triggers (all but API Gateway's) exactly the declared ones:
    keep an equal one, replace a changed one, delete an undeclared one."""
    where = {"FunctionName": function.name, "Namespace": plan.namespace}
    existing = api.call("scf", "ListTriggers", {**where, "Limit": 100}).get("Triggers", [])
    wanted = {(t.kind, t.name): t.desc for t in function.triggers if t.kind != "apigw"}
    changes = []
    for trigger in existing:
        key = (trigger["Type"], trigger["TriggerName"])
        if trigger["Type"] == "apigw" or wanted.get(key) == trigger["TriggerDesc"]:
            wanted.pop(key, None)
            continue
        api.call(
            "scf",
            "DeleteTrigger",
            {
                **where,
                "Type": trigger["Type"],
                "TriggerName": trigger["TriggerName"],
                "TriggerDesc": trigger["TriggerDesc"],
            },
        )
        changes.append(f"deleted {key[0]} {key[1]}")
    for (kind, name), desc in sorted(wanted.items()):
        api.call(
            "scf",
            "CreateTrigger",
            {**where, "Type": kind, "TriggerName": name, "TriggerDesc": desc, "Enable": "OPEN"},
        )
        changes.append(f"created {kind} {name}")
    return changes


def invoke_migrate(api: TencentApi, function: Function, plan: Plan, first_admin: str | None) -> Any:
    """Run the migration function synchronously; its answer, or CloudError if it failed."""
    response = api.call(
        "scf",
        "Invoke",
        {
            "FunctionName": function.name,
            "Namespace": plan.namespace,
            "InvocationType": "RequestResponse",
            "ClientContext": json.dumps({"first_admin_email": first_admin}),
        },
    )
    return invoke_result(response)
