"""Where the engine gets its providers: the adapters that exist, configured from
`provider_configs` (enabled flag, endpoint, options, credential reference, concurrency
limit), read once a minute at most.

An adapter is built on first use and rebuilt when its row changes or after `rebuild_s` (its
credentials are resolved again: a rotated secret reaches running instances). An adapter that
cannot be built — its options do not validate, its secret cannot be read — is unavailable:
the engine skips it like a disabled provider and records the fallback (a failed *rebuild*
keeps the adapter already built); it is tried again a minute later, not on every message (a
secret store that is down must not be asked, and time out, once per step). Why is logged,
never the secret."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Protocol

from retouch.catalog.repository import ProviderConfigRepository
from retouch.catalog.schemas import ProviderRead
from retouch.core.logging import logger
from retouch.core.units import Transactions
from retouch.providers.port import Provider

#: How a provider adapter is built from its configuration.
Factory = Callable[[ProviderRead], Provider]
_REFRESH_S = 60.0


class ProviderSource(Protocol):
    def get(self, key: str) -> Provider | None:
        """The enabled provider `key`, or None (no adapter, disabled, unknown)."""
        ...

    def limit(self, key: str) -> int:
        """How many jobs may run at `key` at once (all instances together)."""
        ...


class ConfiguredProviders:
    """Providers built by `factories` (by kind) from the enabled rows of `provider_configs`."""

    def __init__(
        self,
        database: Transactions,
        factories: Mapping[str, Factory],
        *,
        clock: Callable[[], float] = time.monotonic,
        rebuild_s: float = 300.0,
    ) -> None:
        self._database = database
        self._factories = factories
        self._clock = clock
        self._rebuild_s = rebuild_s
        self._loaded_at = -_REFRESH_S
        self._configs: dict[str, ProviderRead] = {}
        self._built: dict[str, tuple[float, Provider]] = {}
        self._failed: dict[str, float] = {}

    def _refresh(self) -> None:
        if self._clock() - self._loaded_at < _REFRESH_S:
            return
        with self._database.read_only() as uow:
            rows = uow.repository(ProviderConfigRepository).list()
        configs = {config.key: config for config in rows}
        if configs != self._configs:
            for _, provider in self._built.values():
                _close(provider)
            self._built, self._failed = {}, {}
        self._configs, self._loaded_at = configs, self._clock()

    def get(self, key: str) -> Provider | None:
        self._refresh()
        config = self._configs.get(key)
        factory = None if config is None else self._factories.get(config.kind)
        if config is None or not config.enabled or factory is None:
            return None
        failed_at = self._failed.get(key)
        if failed_at is not None and self._clock() - failed_at < _REFRESH_S:
            return None
        built = self._built.get(key)
        if built is not None and self._clock() - built[0] < self._rebuild_s:
            return built[1]
        try:
            provider = factory(config)
        except Exception as exc:  # noqa: BLE001 - any build failure makes the provider unavailable
            logger.warning(
                "provider not built",
                extra={"provider": key, "error": type(exc).__name__, "reason": str(exc)[:200]},
            )
            if built is not None:  # a rebuild failed: keep the adapter we have, retry later
                self._built[key] = (self._clock() - self._rebuild_s + _REFRESH_S, built[1])
                return built[1]
            self._failed[key] = self._clock()
            return None
        self._failed.pop(key, None)
        self._built[key] = (self._clock(), provider)
        if built is not None:
            _close(built[1])
        return provider

    def limit(self, key: str) -> int:
        self._refresh()
        config = self._configs.get(key)
        return 1 if config is None else config.concurrency_limit


def _close(provider: Provider) -> None:
    """Close a replaced adapter's connections (HTTP adapters have `close`)."""
    close = getattr(provider, "close", None)
    if callable(close):
        close()
