"""Request dependencies that need nothing but the request (the caller's are in
`retouch.caller.dependencies`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request


async def request_id(request: Request) -> str | None:
    """The request id the middleware chose (for audit rows)."""
    state = request.scope.get("state") or {}
    value = state.get("request_id")
    return value if isinstance(value, str) else None


#: A route's parameter for the request id (`request: RequestId`).
RequestId = Annotated[str | None, Depends(request_id)]
#: A retry-safe write's optional `Idempotency-Key` (`idempotency_key: IdempotencyKeyHeader = None`).
IdempotencyKeyHeader = Annotated[str | None, Header(max_length=255)]
