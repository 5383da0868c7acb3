"""The router every domain uses: plain `def` endpoints run inline on the invocation's loop.

An instance serves one request at a time (DESIGN §1), so handing a `def` endpoint to a worker
thread buys no concurrency. Under Mangum it costs a thread start per invocation (each call is
a new root task, and anyio stops its idle workers when that task ends): about 0.5 ms, most of
a warm request. Endpoints stay plain `def` with blocking I/O; only where they run changes.

Building a route, FastAPI asks of each parameter and response model whether it is a pydantic
v1 model, to refuse it; to ask, it imports `pydantic.v1` (about 20 modules, some 18 ms of CPU on
every API function's cold start, docs/performance.md). The layer has no v1 model, so a route is
built with `pydantic.v1` absent: the question is answered "no" without the import. FastAPI
builds an included router's routes once more when the first request is matched (`create_app`
adds the routes themselves, so its apps do not); the function's first invocation runs under the
same guard (`adapters.make_handler`). A v1 model cannot exist unless `pydantic.v1` was imported,
and then the guard steps aside and FastAPI refuses it.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute


def _inline(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads the signature through __wrapped__
    async def run_inline(*args: Any, **kwargs: Any) -> Any:
        return endpoint(*args, **kwargs)

    return run_inline


@contextmanager
def without_pydantic_v1() -> Iterator[None]:
    """`import pydantic.v1` fails inside, unless something had already imported it."""
    if "pydantic.v1" in sys.modules:
        yield
        return
    sys.modules["pydantic.v1"] = None  # type: ignore[assignment]  # documented: "import fails"
    try:
        yield
    finally:
        if sys.modules.get("pydantic.v1", sys) is None:
            del sys.modules["pydantic.v1"]


class InlineRoute(APIRoute):
    """An APIRoute whose synchronous endpoint is called on the event loop, not in a thread."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _inline(endpoint)
        with without_pydantic_v1():
            super().__init__(path, endpoint, **kwargs)


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter for a domain's `router.py`; takes APIRouter's arguments."""
    return APIRouter(route_class=InlineRoute, **kwargs)
