"""The clients of a function instance and the pipeline engine, built on first use from
settings, and the one switch that forgets them all (tests, settings reloads)."""

from __future__ import annotations

from functools import cache

from retouch.cache.two_level import get_cache
from retouch.core.db import get_database
from retouch.core.ratelimit import configured_limits, get_rate_limiter
from retouch.core.redis import get_redis
from retouch.core.settings import get_settings
from retouch.images import normalize
from retouch.pipeline.engine import Engine, StepContext
from retouch.pipeline.factories import PROVIDER_FACTORIES
from retouch.pipeline.fetch import fetch_result
from retouch.pipeline.sources import ConfiguredProviders
from retouch.providers.credentials import forget_secrets
from retouch.providers.guards import ProviderGuards
from retouch.queue.factory import get_queue
from retouch.storage.factory import get_storage


@cache
def get_engine() -> Engine:
    """The engine of this instance, built on first use from settings (forgotten by
    `reset_clients`)."""
    database, client, settings = get_database(), get_redis(), get_settings()
    return Engine(
        StepContext(
            database=database,
            redis=client,
            queue=get_queue(),
            storage=get_storage(),
            providers=ConfiguredProviders(
                database, PROVIDER_FACTORIES, rebuild_s=settings.secrets_cache_s
            ),
            guards=ProviderGuards(client),
            normalize=normalize,
            fetch=fetch_result,
            callback_base_url=settings.callback_base_url,
        )
    )


def reset_clients() -> None:
    """Close and forget the database and Redis clients, the rate limiter, the cache, the queue,
    the storage, the pipeline engine, the secrets read and the settings."""
    if get_database.cache_info().currsize:
        get_database().close()
    if get_redis.cache_info().currsize:
        get_redis().close()
    get_database.cache_clear()
    get_redis.cache_clear()
    get_rate_limiter.cache_clear()
    get_cache.cache_clear()
    get_queue.cache_clear()
    get_storage.cache_clear()
    get_engine.cache_clear()
    forget_secrets()
    configured_limits.cache_clear()
    get_settings.cache_clear()
