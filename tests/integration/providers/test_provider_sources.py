"""Where the engine gets its providers: built by kind from `provider_configs` rows, rebuilt
after a while (rotated secrets), unavailable when they cannot be built — and then not tried
again on every message."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from retouch.catalog.schemas import ProviderRead, ProviderWrite
from retouch.catalog.service import save_provider
from retouch.core.db import get_database
from retouch.pipeline.sources import ConfiguredProviders
from retouch.providers.port import Provider
from tests.conftest import Stack
from tests.integration.pipeline_support import ScriptedProvider

pytestmark = pytest.mark.integration


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ClosableProvider(ScriptedProvider):
    closed: bool = False

    def close(self) -> None:
        self.closed = True


@dataclass
class Factory:
    """Builds scripted providers; raises while `failing`."""

    failing: bool = False
    builds: list[str] = field(default_factory=list)

    def __call__(self, config: ProviderRead) -> Provider:
        self.builds.append(config.key)
        if self.failing:
            raise RuntimeError("secret store unreachable")
        return ClosableProvider(config.key, [])


@pytest.fixture
def key(stack: Stack) -> Iterator[str]:
    key = f"p_{secrets.token_hex(4)}"
    row = ProviderWrite(key=key, kind="simulator", concurrency_limit=3)
    save_provider(database=get_database(), provider=row)
    yield key


def source(factory: Factory, clock: Clock) -> ConfiguredProviders:
    return ConfiguredProviders(get_database(), {"simulator": factory}, clock=clock, rebuild_s=300)


def test_a_provider_is_built_by_its_kind_once_then_again_after_the_rebuild_time(key: str) -> None:
    factory, clock = Factory(), Clock()
    providers = source(factory, clock)

    first = providers.get(key)
    again = providers.get(key)
    clock.now += 301
    rebuilt = providers.get(key)

    assert first is not None and first is again and first.key == key
    assert rebuilt is not None and rebuilt is not first
    assert factory.builds == [key, key]
    assert getattr(first, "closed", False) and not getattr(rebuilt, "closed", False)
    assert providers.limit(key) == 3


def test_a_provider_that_cannot_be_built_is_unavailable_and_retried_a_minute_later(
    key: str,
) -> None:
    factory, clock = Factory(failing=True), Clock()
    providers = source(factory, clock)

    assert providers.get(key) is None
    assert providers.get(key) is None  # not rebuilt on every message
    assert factory.builds == [key]
    factory.failing = False
    clock.now += 61

    assert providers.get(key) is not None
    assert factory.builds == [key, key]


def test_a_failed_rebuild_keeps_the_adapter_already_built(key: str) -> None:
    factory, clock = Factory(), Clock()
    providers = source(factory, clock)
    first = providers.get(key)
    factory.failing = True
    clock.now += 301

    kept = providers.get(key)
    clock.now += 30
    still = providers.get(key)

    assert first is not None and kept is first and still is first
    assert factory.builds == [key, key]  # the next try waits a minute


def test_an_unknown_kind_or_key_is_none(key: str) -> None:
    providers = ConfiguredProviders(get_database(), {}, clock=Clock())

    assert providers.get(key) is None
    assert providers.get("no_such_provider") is None
