"""The load benchmark's baseline: a bare FastAPI app doing what a warm authenticated read
needs and nothing more — verify the JWT, one MySQL read by a unique key, one Redis GET.

Served by uvicorn with as many worker processes as the local runtime it is held against
(`scripts/bench/load.py`), on the same MariaDB and Redis (RETOUCH_DB_*, RETOUCH_REDIS_URL,
RETOUCH_JWT_KEYS of the stack). One plain `def` route answers every path the load mix asks
for, in FastAPI's thread pool, on connections from a pool of idle pairs: no middleware, logging,
metrics or problem rendering. `handler` is the same app as a Lambda function (Mangum), which
scripts/bench/load_bare_gateway.py serves behind the local runtime's gateway.
"""

from __future__ import annotations

import json
import os
import queue
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import jwt
import pymysql
import redis
from fastapi import FastAPI, Header, HTTPException
from mangum import Mangum

app = FastAPI()
_KEYS: dict[str, str] = json.loads(os.environ.get("RETOUCH_JWT_KEYS", "{}"))
_idle: queue.SimpleQueue[tuple[Any, redis.Redis]] = queue.SimpleQueue()


@contextmanager
def _connections() -> Iterator[tuple[Any, redis.Redis]]:
    """A MySQL and a Redis connection of this process's idle pair, or new ones; returned
    after use. A pool, not one pair per thread: behind the gateway (`handler`) each invocation
    runs its `def` route on a new worker thread (Mangum runs one event loop per call, and
    AnyIO ends a loop's worker threads with it), which would connect on every request."""
    try:
        pair = _idle.get_nowait()
    except queue.Empty:
        database = pymysql.connect(
            host=os.environ["RETOUCH_DB_HOST"],
            port=int(os.environ["RETOUCH_DB_PORT"]),
            user=os.environ["RETOUCH_DB_USER"],
            password=os.environ["RETOUCH_DB_PASSWORD"],
            database=os.environ["RETOUCH_DB_NAME"],
            autocommit=True,
            cursorclass=pymysql.cursors.DictCursor,
        )
        pair = (database, redis.Redis.from_url(os.environ["RETOUCH_REDIS_URL"]))
    try:
        yield pair
    finally:
        _idle.put(pair)


@app.get("/v1/tasks/{task_id}", response_model=None)
@app.get("/v1/tasks/{task_id}/events", response_model=None)
@app.get("/v1/tasks", response_model=None)
@app.get("/v1/features", response_model=None)
@app.post("/v1/tasks", response_model=None)
def equivalent_work(authorization: str = Header("")) -> dict[str, Any]:
    token = authorization.removeprefix("Bearer ")
    try:
        kid = jwt.get_unverified_header(token)["kid"]
        claims = jwt.decode(token, _KEYS[kid], algorithms=["HS256"], options={"verify_aud": False})
    except (jwt.InvalidTokenError, KeyError):
        raise HTTPException(401) from None
    with _connections() as (database, cache), database.cursor() as cursor:
        cursor.execute("SELECT id, status FROM users WHERE public_id = %s", (claims["sub"],))
        row = cursor.fetchone()
        seen = cache.get(f"bench:{claims['jti']}")
    return {"user": row["id"] if row else None, "seen": seen}


handler = Mangum(app, lifespan="off")
