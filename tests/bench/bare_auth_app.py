"""The hot path's baseline: a bare FastAPI+Mangum app doing what a warm authenticated read
needs and nothing more — verify the access token (HS256, `iss`, `aud`, `exp`), one MySQL read
of the caller by its unique public id, one Redis GET.

No middleware, logging, metrics or problem rendering: only what FastAPI and Mangum do
themselves, in one plain `def` route (as tests/bench/bare_app.py). The MySQL connection is
made on first use and kept, as the functions keep theirs; the Redis client is
tests/bench/bare_redis.py's. `scripts/bench/hotpath.py` holds `GET /v1/tasks/{id}`,
`GET /v1/me` and `POST /v1/tasks` against it (the same route answers all three).
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any

import jwt
import pymysql
from fastapi import FastAPI, Header, HTTPException
from mangum import Mangum

from tests.bench.bare_redis import bare_redis

app = FastAPI()
_KEYS: dict[str, str] = json.loads(os.environ.get("RETOUCH_JWT_KEYS", "{}"))
_ISSUER = os.environ.get("RETOUCH_JWT_ISSUER", "retouch")
_AUDIENCE = os.environ.get("RETOUCH_JWT_AUDIENCE", "retouch-api")


@cache
def _database() -> Any:
    return pymysql.connect(
        host=os.environ["RETOUCH_DB_HOST"],
        port=int(os.environ["RETOUCH_DB_PORT"]),
        user=os.environ["RETOUCH_DB_USER"],
        password=os.environ["RETOUCH_DB_PASSWORD"],
        database=os.environ["RETOUCH_DB_NAME"],
        charset="utf8mb4",
        autocommit=True,
        cursorclass=pymysql.cursors.DictCursor,
    )


@app.get("/v1/me", response_model=None)
@app.get("/v1/tasks/{task_id}", response_model=None)
@app.post("/v1/tasks", response_model=None)
def equivalent_work(authorization: str = Header("")) -> dict[str, Any]:
    token = authorization.removeprefix("Bearer ")
    try:
        kid = jwt.get_unverified_header(token)["kid"]
        claims = jwt.decode(
            token, _KEYS[kid], algorithms=["HS256"], audience=_AUDIENCE, issuer=_ISSUER
        )
    except (jwt.InvalidTokenError, KeyError):
        raise HTTPException(401) from None
    with _database().cursor() as cursor:
        cursor.execute("SELECT id, status FROM users WHERE public_id = %s", (claims["sub"],))
        row = cursor.fetchone()
    if row is None:
        raise HTTPException(401)
    return {"user": row["id"], "seen": bare_redis().get(f"bench:{claims['jti']}")}


handler = Mangum(app, lifespan="off")
