"""The one switch that forgets every client of a function instance, the pipeline engine
included (tests, settings reloads); each is built on first use by its own getter."""

from __future__ import annotations

from retouch.auth.captcha import get_captcha
from retouch.bootstrap.engine import get_engine
from retouch.cache.two_level import get_cache
from retouch.core.caller_cache import get_caller_cache
from retouch.core.db import forget_databases
from retouch.core.errortracking import reset_error_tracking
from retouch.core.lockout import get_lockouts
from retouch.core.metrics import reset_recorder
from retouch.core.ratelimit import configured_limits, get_rate_limiter
from retouch.core.redis import get_redis
from retouch.core.settings import get_settings
from retouch.notify.mailer import get_mailer
from retouch.providers.credentials import forget_secrets
from retouch.queue.factory import get_queue
from retouch.storage.factory import get_storage


def reset_clients() -> None:
    """Close and forget the database and Redis clients, the rate limiter, the cache, the queue,
    the storage, the pipeline engine, the CAPTCHA verifier, the secrets read and the settings;
    flush and forget the metrics recorder; forget whether error tracking is on."""
    if get_redis.cache_info().currsize:
        get_redis().close()
    forget_databases()
    get_redis.cache_clear()
    get_rate_limiter.cache_clear()
    get_caller_cache.cache_clear()
    get_mailer.cache_clear()
    get_captcha.cache_clear()
    get_lockouts.cache_clear()
    get_cache.cache_clear()
    get_queue.cache_clear()
    get_storage.cache_clear()
    get_engine.cache_clear()
    forget_secrets()
    configured_limits.cache_clear()
    get_settings.cache_clear()
    reset_recorder()
    reset_error_tracking()
