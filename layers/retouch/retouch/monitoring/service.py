"""Health checks: one real round trip to each dependency, bounded by its client timeout."""

from __future__ import annotations

import time
from collections.abc import Callable

import retouch
from retouch.core.db import Database
from retouch.core.errors import ServiceUnavailable
from retouch.core.logging import logger
from retouch.core.redis import REDIS_UNAVAILABLE_ERRORS, RedisClient
from retouch.monitoring.schemas import HealthRead

_UNAVAILABLE: tuple[type[Exception], ...] = (ServiceUnavailable, *REDIS_UNAVAILABLE_ERRORS)


def check_process() -> HealthRead:
    """The process is up and serving."""
    return HealthRead(status="ok", check="process", version=retouch.__version__)


def check_database(*, database: Database) -> HealthRead:
    """`SELECT 1` on the function's own connection (reconnecting if it died)."""
    return _timed("db", database.ping)


def check_redis(*, redis: RedisClient) -> HealthRead:
    """`PING` through the function's own client."""
    return _timed("redis", redis.ping)


def _timed(check: str, round_trip: Callable[[], object]) -> HealthRead:
    started = time.perf_counter()
    try:
        round_trip()
    except _UNAVAILABLE as exc:
        latency_ms = _elapsed_ms(started)
        logger.warning("health check failed", extra={"check": check, "error": type(exc).__name__})
        return HealthRead(
            status="down",
            check=check,
            latency_ms=latency_ms,
            code=ServiceUnavailable.code,
            detail=f"{check} unreachable",
        )
    return HealthRead(status="ok", check=check, latency_ms=_elapsed_ms(started))


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
