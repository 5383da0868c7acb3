"""A small app built with the real factory, with routes that exercise each error path."""

from __future__ import annotations

import redis
from fastapi import FastAPI, Response
from pydantic import BaseModel, ConfigDict, Field

from retouch.core.db import get_database
from retouch.core.errors import ServiceUnavailable
from retouch.core.ratelimit import RateLimiter
from retouch.core.redis import get_redis
from retouch.http import api_router, create_app

router = api_router(prefix="/probe")


class EchoIn(BaseModel):
    name: str = Field(min_length=1, max_length=20)
    count: int = Field(ge=0)


@router.post("/echo")
def echo(body: EchoIn) -> EchoIn:
    return body


class StrictIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=20)


@router.post("/strict")
def strict(body: StrictIn) -> StrictIn:
    return body


@router.get("/items/{item_id}")
def item(item_id: int) -> dict[str, int]:
    # Not `{"id": ...}`: the suite's leak scan holds test apps to the contract too (no numeric
    # id in any response).
    return {"item": item_id}


@router.get("/cached")
def cached(response: Response) -> dict[str, str]:
    """A route that chooses its own caching, as the catalog's public ETag routes do."""
    response.headers["Cache-Control"] = "public, max-age=60"
    return {"cached": "yes"}


@router.get("/boom")
def boom() -> None:
    raise RuntimeError("secret internals: SELECT password FROM users")


@router.get("/db")
def database_read() -> dict[str, int]:
    with get_database().unit_of_work() as uow:
        row = uow.fetch_one("SELECT COUNT(*) AS plans FROM plans")
    assert row is not None
    return {"plans": int(row["plans"])}


@router.get("/cache")
def cache_read() -> dict[str, str | None]:
    value = get_redis().get("probe")
    return {"value": value if isinstance(value, str) else None}


@router.get("/cache-broken")
def cache_broken() -> None:
    raise redis.exceptions.ConnectionError("Error 111 connecting to 10.0.0.9:6379")


@router.get("/busy")
def busy() -> None:
    raise ServiceUnavailable("Too many requests are being handled; retry shortly")


@router.get("/db-broken")
def database_broken() -> None:
    try:
        raise ConnectionRefusedError("connecting to 10.0.0.8:3306")
    except ConnectionRefusedError as exc:
        raise ServiceUnavailable("database unreachable") from exc


def build_probe_app(rate_limiter: RateLimiter | None = None) -> FastAPI:
    """The probe app; unit tests pass an in-memory limiter (the default one needs Redis)."""
    return create_app([router], title="probe", rate_limiter=rate_limiter)
