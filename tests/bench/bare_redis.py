"""The benchmark baselines' Redis client (tests/bench/bare_app.py, bare_step.py): created
lazily on first use with the same URL, timeouts and retry policy as
`retouch.core.redis.get_redis`, so both sides of a comparison pay the same connect."""

from __future__ import annotations

import os
from functools import cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


@cache
def bare_redis() -> redis.Redis:
    timeout_s = float(os.environ.get("RETOUCH_REDIS_TIMEOUT_S", "0.5"))
    return redis.Redis.from_url(
        os.environ["RETOUCH_REDIS_URL"],
        socket_connect_timeout=timeout_s,
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), retries=1),
        retry_on_error=[redis.exceptions.ConnectionError],
        health_check_interval=30,
        decode_responses=True,
    )
