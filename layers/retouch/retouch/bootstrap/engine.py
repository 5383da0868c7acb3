"""The pipeline engine of a function instance, built on first use from settings. Apart from
`clients.reset_clients` (which imports every client, the cache and the rate limiter among
them), so that a step function's cold start loads only what the engine needs."""

from __future__ import annotations

from functools import cache

from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.core.settings import get_settings
from retouch.images import normalize
from retouch.pipeline.context import HeldUntilBatchEnd
from retouch.pipeline.engine import Engine, StepContext
from retouch.pipeline.factories import PROVIDER_FACTORIES
from retouch.pipeline.fetch import fetch_result
from retouch.pipeline.sources import ConfiguredProviders
from retouch.providers.guards import ProviderGuards
from retouch.queue.factory import get_queue
from retouch.queue.marks import DeferredMarks
from retouch.storage.factory import get_storage


@cache
def get_engine() -> Engine:
    """The engine of this instance, built on first use from settings (forgotten by
    `reset_clients`)."""
    # `steps`: transactions begin with their first statement (no BEGIN round trip).
    database, client, settings = get_database("steps"), get_redis(), get_settings()
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
            marks=DeferredMarks(),
            held=HeldUntilBatchEnd(),
        )
    )
