"""Health check DTOs."""

from __future__ import annotations

from typing import Literal

from retouch.core.schemas import Schema

HealthStatus = Literal["ok", "down"]


class HealthRead(Schema):
    """The body of every health endpoint; `code` is set when the dependency is down."""

    status: HealthStatus
    check: str
    version: str | None = None
    latency_ms: float | None = None
    code: str | None = None
    detail: str | None = None
