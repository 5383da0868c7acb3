"""The benchmark baseline: a bare FastAPI app with one plain `def` route doing one Redis GET.

No middleware, no logging, no metrics, no exception handlers: only what FastAPI and Mangum do
themselves. The Redis client is created lazily on first use with the same URL, timeouts and
retry policy as `retouch.core.redis.get_redis`, so both apps pay the same connect on their
first request. `scripts/bench/health.py` compares the health function against this.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from mangum import Mangum

from tests.bench.bare_redis import bare_redis

app = FastAPI()


# `response_model=None`: the annotation is for mypy only; an unannotated route (the barest
# FastAPI) skips response validation, and so does this one.
# The same route at /v1/me, /v1/features and /v1/tasks too: scripts/bench/me.py,
# scripts/bench/catalog.py and scripts/bench/tasks.py hold those functions against it (the
# task id of the path is not even read).
@app.get("/health/redis", response_model=None)
@app.get("/v1/me", response_model=None)
@app.get("/v1/features", response_model=None)
@app.get("/v1/tasks/{task_id}", response_model=None)
@app.post("/v1/tasks", response_model=None)
def health_redis() -> dict[str, Any]:
    return {"status": "ok", "value": bare_redis().get("bench:bare")}


handler = Mangum(app, lifespan="off")
