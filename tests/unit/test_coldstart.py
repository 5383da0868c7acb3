"""An API function's modules load without the cyclic garbage collector, and what they built is
frozen afterwards (`core/coldstart.py`; docs/performance.md, "Cold start of the API functions:
the fourth pass")."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from retouch.core.coldstart import loading_modules


class Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


@pytest.fixture(autouse=True)
def collector_as_it_was() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_nothing_is_collected_inside_and_what_was_loaded_is_frozen_after() -> None:
    gc.enable()
    frozen_before = gc.get_freeze_count()

    with loading_modules():
        inside = gc.isenabled()
        loaded = Node()

    assert inside is False
    assert gc.isenabled() is True
    assert gc.get_freeze_count() > frozen_before
    # Frozen: a full collection no longer looks at it, so it is not counted as collectable.
    assert not any(obj is loaded for obj in gc.get_objects())


def test_a_request_s_cycles_are_collected_again_after_the_load() -> None:
    gc.enable()
    with loading_modules():
        pass
    Node()  # unreachable at once: a cycle only the collector frees

    assert gc.collect() >= 1


def test_a_collector_disabled_before_stays_disabled_and_a_failed_import_restores_it() -> None:
    gc.disable()
    with pytest.raises(ImportError), loading_modules():
        raise ImportError("a function's module failed to load")
    assert gc.isenabled() is False

    gc.enable()
    with pytest.raises(ImportError), loading_modules():
        raise ImportError("a function's module failed to load")
    assert gc.isenabled() is True
