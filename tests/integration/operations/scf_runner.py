"""Runs inside `.venv-scf` (CPython 3.10, as Tencent SCF runs) as one SCF function instance
would: started in the function's folder (SCF's /var/user), its `PYTHONPATH` the folder, then the
layer (SCF's /opt: our code and the wheels of the lock files). It imports the function's module
as SCF resolves `app.main_handler`, calls the handler with each event and an SCF context dict, and
writes what happened to the JSON file named by its first argument (stdout carries the function's
own log lines). It imports nothing from `tests` or `scripts`: only the standard library and what
the layer ships. tests/integration/operations/test_scf_runtime.py drives it.

Input (stdin, JSON): {"handler": "app.main_handler", "function_name": str,
"events": [{"name": str, "event": {...}}]}.
"""

from __future__ import annotations

import importlib
import json
import sys
import traceback
from typing import Any

#: Packages whose origin the test checks: the layer's code and its heaviest dependencies.
PROBED_PACKAGES = ("retouch", "fastapi", "starlette", "pydantic_core", "argon2", "regex")


def scf_context(function_name: str, request_id: str) -> dict[str, Any]:
    """The context SCF passes a Python event function: a dict, not Lambda's object."""
    return {
        "function_name": function_name,
        "function_version": "$LATEST",
        "namespace": "default",
        "request_id": request_id,
        "memory_limit_in_mb": 256,
        "time_limit_in_ms": 30_000,
        "tencentcloud_region": "ap-guangzhou",
    }


def invoke(handler: Any, function_name: str, name: str, event: dict[str, Any]) -> dict[str, Any]:
    """One invocation: the handler's answer, or the exception it raised, by type and text."""
    try:
        response = handler(event, scf_context(function_name, f"scf-{name}"))
    except Exception as error:  # noqa: BLE001 - reported to the test, which judges it
        return {"name": name, "raised": type(error).__name__, "detail": traceback.format_exc()}
    return {"name": name, "response": response}


def main() -> None:
    """Import the function's module, answer every event, write the outcome."""
    request = json.load(sys.stdin)
    module_name, _, attribute = request["handler"].rpartition(".")
    module = importlib.import_module(module_name)
    handler = getattr(module, attribute)
    results = [
        invoke(handler, request["function_name"], item["name"], item["event"])
        for item in request["events"]
    ]
    origins = {name: importlib.import_module(name).__file__ for name in PROBED_PACKAGES}
    outcome = {
        "python": list(sys.version_info[:3]),
        "module_file": module.__file__,
        "origins": origins,
        "results": results,
    }
    with open(sys.argv[1], "w", encoding="utf-8") as output:
        json.dump(outcome, output, default=str)


if __name__ == "__main__":
    main()
