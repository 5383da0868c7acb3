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
from typing import Any

from fastapi import FastAPI

import retouch
from retouch.http import create_app
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
    {"name": "uploads", "description": "Presigned uploads of the images a task edits."},
    {"name": "tasks", "description": "Edits: start, follow, list, cancel and delete tasks."},
    {"name": "catalog", "description": "The features on offer and the form of their inputs."},
    {"name": "admin", "description": "Operators and admins: config, users, audit log."},
    {"name": "callbacks", "description": "Notifications from image vendors (not for clients)."},
    {"name": "health", "description": "Liveness of the service and its dependencies."},
]


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
