"""The router every domain uses: plain `def` endpoints run inline on the invocation's loop.

An instance serves one request at a time (DESIGN §1), so handing a `def` endpoint to a worker
thread buys no concurrency. Under Mangum it costs a thread start per invocation (each call is
a new root task, and anyio stops its idle workers when that task ends): about 0.5 ms, most of
a warm request. Endpoints stay plain `def` with blocking I/O; only where they run changes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute


def _inline(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(endpoint)  # FastAPI reads the signature through __wrapped__
    async def run_inline(*args: Any, **kwargs: Any) -> Any:
        return endpoint(*args, **kwargs)

    return run_inline


class InlineRoute(APIRoute):
    """An APIRoute whose synchronous endpoint is called on the event loop, not in a thread."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _inline(endpoint)
        super().__init__(path, endpoint, **kwargs)


def api_router(**kwargs: Any) -> APIRouter:
    """An APIRouter for a domain's `router.py`; takes APIRouter's arguments."""
    return APIRouter(route_class=InlineRoute, **kwargs)
