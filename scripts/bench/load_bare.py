"""The load benchmark's baseline: a bare FastAPI app doing what a warm authenticated read
needs and nothing more — verify the JWT, one MySQL read by a unique key, one Redis GET.

Served by uvicorn with as many worker processes as the local runtime it is held against
(`scripts/bench/load.py`), on the same MariaDB and Redis (RETOUCH_DB_*, RETOUCH_REDIS_URL,
RETOUCH_JWT_KEYS of the stack). One plain `def` route answers every path the load mix asks
for, in FastAPI's thread pool, each thread with its own connections: no middleware, logging,
metrics or problem rendering.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

import jwt
import pymysql
import redis
from fastapi import FastAPI, Header, HTTPException

app = FastAPI()
_KEYS: dict[str, str] = json.loads(os.environ.get("RETOUCH_JWT_KEYS", "{}"))
_local = threading.local()


def _connections() -> tuple[Any, redis.Redis]:
    if not hasattr(_local, "db"):
        _local.db = pymysql.connect(
            host=os.environ["RETOUCH_DB_HOST"],
            port=int(os.environ["RETOUCH_DB_PORT"]),
            user=os.environ["RETOUCH_DB_USER"],
            password=os.environ["RETOUCH_DB_PASSWORD"],
            database=os.environ["RETOUCH_DB_NAME"],
            autocommit=True,
            cursorclass=pymysql.cursors.DictCursor,
        )
        _local.redis = redis.Redis.from_url(os.environ["RETOUCH_REDIS_URL"])
    return _local.db, _local.redis


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
    database, cache = _connections()
    with database.cursor() as cursor:
        cursor.execute("SELECT id, status FROM users WHERE public_id = %s", (claims["sub"],))
        row = cursor.fetchone()
    return {"user": row["id"] if row else None, "seen": cache.get(f"bench:{claims['jti']}")}
