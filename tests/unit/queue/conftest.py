"""The outbox tests' fakes: its rows in memory, and a database over them."""

from __future__ import annotations

import pytest

from retouch.queue.repository import OutboxRepository
from tests.fakes.outbox import FakeOutboxRepository
from tests.fakes.units import InMemoryDatabase


@pytest.fixture
def outbox() -> FakeOutboxRepository:
    return FakeOutboxRepository()


@pytest.fixture
def database(outbox: FakeOutboxRepository) -> InMemoryDatabase:
    return InMemoryDatabase({OutboxRepository: outbox})
