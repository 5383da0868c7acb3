"""Redis: one lazy client per process with short timeouts, authenticated with the token
RETOUCH_REDIS_AUTH_SECRET names when it is set (read when a connection is made).

redis-py's pool drops a broken connection and dials again on the next command, so a restarted
server is picked up without a restart of ours. One quick retry covers a connection that died
while idle; a server that is really down fails the call within the timeout.
"""

from __future__ import annotations

from functools import cache

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from retouch.core.settings import get_settings

RedisClient = redis.Redis

#: Errors that mean "Redis is unreachable right now" (mapped to 503 in one place).
REDIS_UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


@cache
def get_redis() -> RedisClient:
    """The process's Redis client, created on first use (no connection until a command)."""
    settings = get_settings()
    credentials: dict[str, object] = {}
    if settings.redis_auth_secret:
        # The secrets package loads only where a token is configured (not locally).
        from retouch.core.secrets.redis_token import RedisToken

        credentials["credential_provider"] = RedisToken(settings.redis_auth_secret)
    return redis.Redis.from_url(
        settings.redis_url,
        **credentials,
        socket_connect_timeout=settings.redis_timeout_s,
        socket_timeout=settings.redis_timeout_s,
        retry=Retry(NoBackoff(), retries=1),
        retry_on_error=[redis.exceptions.ConnectionError],
        health_check_interval=30,
        decode_responses=True,
    )
