"""Health endpoints: 200 `{status: "ok"}` or 503 `{status: "down", code: SERVICE_UNAVAILABLE}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.monitoring import service
from retouch.monitoring.schemas import HealthRead

router = APIRouter(prefix="/health", tags=["health"])

_DOWN: dict[int | str, dict[str, Any]] = {
    503: {"model": HealthRead, "description": "The dependency is unreachable"}
}


def _answer(result: HealthRead) -> Response:
    """Render the DTO ourselves: it was validated when built, so FastAPI's response-model pass
    (a second thread-pool hop for a `def` route, plus merging an injected `Response`) would
    only repeat that work on the most frequently called endpoints. `response_model` stays on
    the routes for the OpenAPI schema."""
    return Response(
        content=result.model_dump_json(exclude_none=True),
        status_code=503 if result.status == "down" else 200,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@router.get("", response_model=HealthRead)
def health() -> Response:
    """The process is up."""
    return _answer(service.check_process())


@router.get("/db", response_model=HealthRead, responses=_DOWN)
def health_db() -> Response:
    """One round trip to MySQL."""
    return _answer(service.check_database(database=get_database()))


@router.get("/redis", response_model=HealthRead, responses=_DOWN)
def health_redis() -> Response:
    """One round trip to Redis."""
    return _answer(service.check_redis(redis=get_redis()))
