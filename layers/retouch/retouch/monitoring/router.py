"""Health endpoints: 200 `{status: "ok"}` or 503 `{status: "down", code: SERVICE_UNAVAILABLE}`."""

from __future__ import annotations

from typing import Any

from fastapi import Response

from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.http.routing import api_router
from retouch.monitoring import service
from retouch.monitoring.schemas import HealthRead

router = api_router(prefix="/health", tags=["health"])

_DOWN: dict[int | str, dict[str, Any]] = {
    503: {"model": HealthRead, "description": "The dependency is unreachable"}
}


def _answer(result: HealthRead, response: Response) -> HealthRead:
    if result.status == "down":
        response.status_code = 503
    response.headers["Cache-Control"] = "no-store"
    return result


@router.get("", response_model=HealthRead, response_model_exclude_none=True)
def health(response: Response) -> HealthRead:
    """The process is up."""
    return _answer(service.check_process(), response)


@router.get("/db", response_model=HealthRead, response_model_exclude_none=True, responses=_DOWN)
def health_db(response: Response) -> HealthRead:
    """One round trip to MySQL."""
    return _answer(service.check_database(database=get_database("health")), response)


@router.get("/redis", response_model=HealthRead, response_model_exclude_none=True, responses=_DOWN)
def health_redis(response: Response) -> HealthRead:
    """One round trip to Redis."""
    return _answer(service.check_redis(redis=get_redis()), response)
