"""Lazy re-exports: a package names its adapters in `__all__` without importing them.

A package like `retouch.queue` re-exports every adapter (SQS, SCF invocation, TDMQ CMQ, Redis
Streams), but a process uses one, chosen by a setting on first use. Importing all of them in
the package's `__init__` put every adapter's module (and what it imports) on every function's
cold start. `lazy_exports` returns a module `__getattr__` (PEP 562): `from retouch.queue import
SqsQueue` still works, and imports `retouch.queue.sqs` only then.

    if TYPE_CHECKING:  # what type checkers and readers see
        from retouch.queue.sqs import SqsQueue
    __getattr__ = lazy_exports(globals(), {"SqsQueue": "retouch.queue.sqs"})
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(namespace: dict[str, Any], exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module `__getattr__` for the package whose globals are `namespace`: `exports` maps a
    name to the module defining it; the first access imports that module and keeps the value
    in the package, so later accesses are plain attribute reads."""
    package = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
