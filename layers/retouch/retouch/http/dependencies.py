"""Request dependencies that need nothing but the request (the caller's are in
`retouch.caller.dependencies`)."""

from __future__ import annotations

from fastapi import Request


async def request_id(request: Request) -> str | None:
    """The request id the middleware chose (for audit rows)."""
    state = request.scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else None
