"""Fixtures of the database tests: an in-memory metrics sink behind the recorder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from retouch.core.metrics import Recorder, reset_recorder
from tests.fakes.metrics import MemorySink


@pytest.fixture
def sink() -> Iterator[MemorySink]:
    """Every metric the test emits, kept in memory (flushed at each invocation's end)."""
    memory = MemorySink()
    reset_recorder(Recorder(memory))
    yield memory
    reset_recorder()
