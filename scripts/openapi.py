"""The API's OpenAPI document: every HTTP function of template.yaml in one contract.

`scripts/openapi` (or `python -m scripts.openapi --write`) writes `docs/openapi.json`; without
`--write` it prints the document. The committed file is the contract clients are generated
from; `tests/unit/test_openapi_document.py` fails when the code and the file differ.

Each function's app declares its own operations (`retouch.http.contract`); this adds what
belongs to the whole API: title, version, servers, the introduction
(`docs/api/introduction.md`) and the tags' descriptions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, get_args

from fastapi import FastAPI

import retouch
from retouch.catalog.schemas import ProviderKind
from retouch.core.identity import UserStatus
from retouch.core.permissions import Role
from retouch.http import create_app
from retouch.tasks.records import TaskStatus
from retouch.uploads.records import RejectReason, UploadStatus
from retouch.uploads.schemas import UploadContentType
from scripts.local.sam import load_module, load_template

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT = ROOT / "docs" / "openapi.json"
INTRODUCTION = ROOT / "docs" / "api" / "introduction.md"
TITLE = "Retouch API"
SERVERS = [
    {"url": "https://api.retouch.app", "description": "Production"},
    {"url": "http://127.0.0.1:3000", "description": "The local stack (scripts/run)"},
]
TAGS = [
    {"name": "auth", "description": "Accounts and sessions: register, login, refresh, logout."},
    {"name": "me", "description": "The caller's own account."},
    {"name": "quota", "description": "The caller's credits and their ledger."},
    {"name": "plans", "description": "The plans on offer: credits, features, price, limits."},
    {"name": "orders", "description": "Buying a plan or credits, and payment notifications."},
    {"name": "uploads", "description": "Presigned uploads of the images a task edits."},
    {"name": "tasks", "description": "Edits: start, follow, list, cancel and delete tasks."},
    {"name": "catalog", "description": "The features on offer and the form of their inputs."},
    {"name": "admin", "description": "Operators and admins: config, users, audit log."},
    {"name": "callbacks", "description": "Notifications from image vendors (not for clients)."},
    {"name": "health", "description": "Liveness of the service and its dependencies."},
]


# Enums the code spells as Literal types, which the schema would repeat inline (and a generated
# client name once per use: `MeReadRole`, `UserPatchRoleType0`...): one component each.
NAMED_ENUMS: dict[str, tuple[str, ...]] = {
    "Role": get_args(Role),
    "UserStatus": get_args(UserStatus),
    "TaskStatus": get_args(TaskStatus),
    "UploadStatus": get_args(UploadStatus),
    "ContentType": get_args(UploadContentType),
    "RejectReason": get_args(RejectReason),
    "ProviderKind": get_args(ProviderKind),
}
# Strings whose values are a registry's: a task's error code is an ErrorCode.
NAMED_PROPERTIES = {("TaskError", "code"): "ErrorCode"}
# Operations answering with an entity tag, and 304 to a matching If-None-Match.
TAGGED_OPERATIONS = ("tasks_get", "catalog_list_features", "catalog_get_feature")
TAG_HEADERS = {
    "ETag": {
        "description": "The entity tag: send it as If-None-Match.",
        "schema": {"type": "string"},
    },
    "Cache-Control": {"description": "How long a cache may keep it.", "schema": {"type": "string"}},
}
# OpenAPI links: what a created resource's id is for (clients and schemathesis follow them).
LINKS = {
    "uploads_create": ("upload_id", ("uploads_get",)),
    "uploads_create_credentials": ("upload_id", ("uploads_get",)),
    "tasks_create": ("task_id", ("tasks_get", "tasks_cancel", "tasks_delete", "tasks_events")),
}
SEED_CATALOG = ROOT / "shared" / "seed" / "catalog.json"
SAMPLE_UPLOAD = "upl_3Zx8c2kQ0bV1mN4pR7sT9w"
FORMS_NOTE = (
    " One shape per feature of the seed catalog, its `inputs` that feature's form. Operators "
    "can change forms and add features at run time: `GET /v1/features/{key}` is the live truth."
)
# An example of every request body (the tasks' come from the forms).
EXAMPLES: dict[str, dict[str, Any]] = {
    "RegisterRequest": {"email": "ada@example.com", "password": "Correct-horse-9"},
    "LoginRequest": {"email": "ada@example.com", "password": "Correct-horse-9"},
    "RefreshRequest": {"refresh_token": "rt_9f8e7d6c5b4a39281706f5e4d3c2b1a0"},
    "UploadCreate": {"content_type": "image/png", "size": 482113},
    "CreditGrant": {"amount": 50, "reason": "support ticket 4411"},
    "OrderCreate": {"product": "credits_500", "provider": "fake"},
    "MembershipChange": {
        "plan": "pro",
        "expires_at": "2030-07-01T00:00:00Z",
        "reason": "annual contract 2030-118",
    },
    "UserPatch": {"role": "operator"},
    "FeaturePatch": {"cost": 2, "enabled": True},
    "Rollback": {"kind": "form"},
    "FormCreate": {
        "json_schema": {
            "type": "object",
            "required": ["image"],
            "properties": {"image": {"type": "string", "x-upload": True}},
        },
        "make_current": False,
    },
    "PipelineCreate": {"steps": [{"step": "prepare"}, {"step": "generate"}], "make_current": False},
    "ProviderPut": {"kind": "local", "concurrency_limit": 4, "weight": 100, "enabled": True},
    "Redrive": {"message_ids": ["0b7e1c9a-5f3d-4e2a-9c61-2d8f4a7b3e10"]},
    "CacheInvalidate": {"namespace": "catalog"},
    "AlertTest": {"channel": "dingtalk"},
    "AlertRulesEdit": {
        "version": 3,
        "rules": [
            {
                "key": "provider_failures",
                "kind": "task_failure_rate_provider",
                "summary_zh": "供应商失败率过高",
                "summary_en": "Provider failure rate high",
                "threshold": 0.4,
                "window_s": 900,
                "min_samples": 5,
                "cooldown_s": 1800,
                "severity": "critical",
                "channels": ["dingtalk", "email"],
            }
        ],
    },
    "ResetRequest": {"email": "ada@example.com"},
    "PasswordReset": {
        "token": "Zq3x9Vb2LmN8pR4tY7wK1cF6hJ0sD5gA2eU9iO3uT8y",
        "password": "Fresh-horse-4",
    },
    "PasswordChange": {"current_password": "Correct-horse-9", "new_password": "Fresh-horse-4"},
    "RefundCreate": {"reason": "duplicate purchase, ticket 5120"},
    "PlanEdit": {
        "name": "Pro",
        "monthly_credits": 2500,
        "features": ["cutout", "eraser", "outfit", "faceswap", "outpaint"],
        "priority": 10,
        "price_display": "¥39 / month",
        "max_concurrent_tasks": 20,
        "max_input_pixels": 50000000,
        "archived": False,
    },
    "AccountDeletion": {"password": "Correct-horse-9"},
    "EmailVerification": {"token": "Vq7m2Xc9LpB4nR8tZ1wK6cF3hJ5sD0gA9eU2iO7uT4y"},
    "VerificationResend": {"email": "ada@example.com"},
}


def function_apps() -> list[FastAPI]:
    """The app of every HTTP function in template.yaml."""
    apps = []
    for spec in load_template().functions:
        if spec.routes:
            app = getattr(load_module(spec), "app", None)
            if isinstance(app, FastAPI):
                apps.append(app)
    return apps


def document(apps: Iterable[FastAPI] | None = None) -> dict[str, Any]:
    """The OpenAPI document of `apps` (by default every HTTP function's) as one API."""
    apps = function_apps() if apps is None else apps
    routers = [router for app in apps for router in getattr(app.state, "routers", ())]
    spec = create_app(routers, title=TITLE).openapi()
    spec["info"] = {
        "title": TITLE,
        "version": retouch.__version__,
        "description": INTRODUCTION.read_text(encoding="utf-8"),
        "license": {"name": "Proprietary", "identifier": "LicenseRef-Proprietary"},
    }
    spec["servers"] = SERVERS
    name_enums(spec["components"]["schemas"], spec["paths"])
    task_create_per_feature(spec["components"]["schemas"])
    for name, example in EXAMPLES.items():
        spec["components"]["schemas"][name]["examples"] = [example]
    declare_entity_tags(spec)
    declare_links(spec)
    used = {
        tag
        for operations in spec["paths"].values()
        for op in operations.values()
        for tag in op.get("tags", ())
    }
    spec["tags"] = [tag for tag in TAGS if tag["name"] in used]
    spec["tags"] += [
        {"name": name, "description": name} for name in sorted(used - {tag["name"] for tag in TAGS})
    ]
    return spec


def name_enums(schemas: dict[str, Any], paths: dict[str, Any]) -> None:
    """Replace every inline enum of `NAMED_ENUMS`' values by a reference to its component."""
    named = {frozenset(values): name for name, values in NAMED_ENUMS.items()}

    def visit(node: Any) -> Any:
        if isinstance(node, list):
            return [visit(item) for item in node]
        if not isinstance(node, dict):
            return node
        name = named.get(frozenset(node["enum"])) if "enum" in node else None
        if name is not None:
            kept = {key: node[key] for key in ("description", "default") if key in node}
            return {"$ref": f"#/components/schemas/{name}", **kept}
        return {key: visit(value) for key, value in node.items()}

    for key, value in list(paths.items()):
        paths[key] = visit(value)
    for key, value in list(schemas.items()):
        schemas[key] = visit(value)
    for name, values in NAMED_ENUMS.items():
        schemas[name] = {"type": "string", "enum": list(values), "title": name}
    for (schema, field), name in NAMED_PROPERTIES.items():
        schemas[schema]["properties"][field] = {"$ref": f"#/components/schemas/{name}"}


def declare_entity_tags(spec: dict[str, Any]) -> None:
    """`ETag` and `Cache-Control` on the 200 and 304 of `TAGGED_OPERATIONS`."""
    spec["components"]["headers"].update(TAG_HEADERS)
    for operations in spec["paths"].values():
        for operation in operations.values():
            if operation["operationId"] not in TAGGED_OPERATIONS:
                continue
            for status in ("200", "304"):
                headers = operation["responses"][status].setdefault("headers", {})
                for name in TAG_HEADERS:
                    headers[name] = {"$ref": f"#/components/headers/{name}"}


def declare_links(spec: dict[str, Any]) -> None:
    """`LINKS`: the success response of a create names the operations its `id` feeds."""
    for operations in spec["paths"].values():
        for operation in operations.values():
            if operation["operationId"] not in LINKS:
                continue
            parameter, targets = LINKS[operation["operationId"]]
            success = next(code for code in operation["responses"] if code.startswith("2"))
            operation["responses"][success]["links"] = {
                "".join(word.title() for word in target.split("_")): {
                    "operationId": target,
                    "parameters": {parameter: "$response.body#/id"},
                }
                for target in targets
            }


def task_create_per_feature(schemas: dict[str, Any]) -> None:
    """`TaskCreate` as a `oneOf` of the seed catalog's features, discriminated by `feature`."""
    features = json.loads(SEED_CATALOG.read_text(encoding="utf-8"))["features"]
    variants: dict[str, str] = {}
    for feature in features:
        key = feature["key"]
        name = key.title().replace("_", "")
        form = {k: v for k, v in feature["form"].items() if k != "$schema"}
        schemas[f"{name}Inputs"] = {**form, "title": f"{name}Inputs"}
        schemas[f"TaskCreate{name}"] = {
            "type": "object",
            "title": f"TaskCreate{name}",
            "required": ["feature", "inputs"],
            "additionalProperties": False,
            "properties": {
                "feature": {"type": "string", "const": key},
                "inputs": {"$ref": f"#/components/schemas/{name}Inputs"},
            },
            "examples": [{"feature": key, "inputs": sample_inputs(form)}],
        }
        variants[key] = f"#/components/schemas/TaskCreate{name}"
    schemas["TaskCreate"] = {
        "title": "TaskCreate",
        "description": schemas["TaskCreate"].get("description", "") + FORMS_NOTE,
        "oneOf": [{"$ref": ref} for ref in variants.values()],
        "discriminator": {"propertyName": "feature", "mapping": variants},
    }


def sample_inputs(form: dict[str, Any]) -> dict[str, Any]:
    """Inputs a form accepts: its required fields (and its first alternative's)."""
    required = [*form.get("required", []), *(form.get("oneOf") or [{}])[0].get("required", [])]
    inputs: dict[str, Any] = {}
    for field in required:
        spec = form["properties"][field]
        inputs[field] = SAMPLE_UPLOAD if spec.get("x-upload") else spec["enum"][0]
    return inputs


def render(spec: dict[str, Any]) -> str:
    """The document as committed: indented, keys in the code's order, UTF-8, final newline."""
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help=f"write {DOCUMENT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    text = render(document())
    if args.write:
        DOCUMENT.write_text(text, encoding="utf-8")
        print(f"wrote {DOCUMENT.relative_to(ROOT)}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
