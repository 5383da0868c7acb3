"""The unit-of-work ports: SQL adapters registered by port, the in-memory unit of work's
commit and rollback (what every fake-based unit test relies on)."""

from __future__ import annotations

from typing import Protocol

import pytest

from retouch.core.units import sql_adapter, sql_adapter_of
from tests.fakes import InMemoryDatabase


class CounterPort(Protocol):
    def add(self, amount: int) -> None: ...


class FakeCounter:
    def __init__(self) -> None:
        self.total = 0
        self.history: list[int] = []

    def add(self, amount: int) -> None:
        self.total += amount
        self.history.append(amount)


def test_a_registered_sql_adapter_is_found_by_its_port() -> None:
    class Port(Protocol): ...

    @sql_adapter(Port)
    class Adapter:
        def __init__(self, uow: object) -> None:
            self.uow = uow

    assert sql_adapter_of(Port) is Adapter


def test_a_port_without_an_adapter_is_a_lookup_error() -> None:
    class Unregistered(Protocol): ...

    with pytest.raises(LookupError, match="Unregistered"):
        sql_adapter_of(Unregistered)


def test_committed_changes_stay() -> None:
    counter = FakeCounter()
    database = InMemoryDatabase({CounterPort: counter})
    with database.unit_of_work() as uow:
        uow.repository(CounterPort).add(3)
        uow.commit()
    assert (counter.total, counter.history, database.commits) == (3, [3], 1)


def test_a_unit_left_without_commit_puts_every_fake_back() -> None:
    counter = FakeCounter()
    database = InMemoryDatabase({CounterPort: counter})
    with database.unit_of_work() as uow:
        uow.repository(CounterPort).add(3)
        uow.commit()
        uow.repository(CounterPort).add(4)  # after the commit: a new transaction
    assert (counter.total, counter.history, database.rollbacks) == (3, [3], 1)


def test_an_exception_rolls_back() -> None:
    counter = FakeCounter()
    database = InMemoryDatabase({CounterPort: counter})
    with pytest.raises(RuntimeError), database.unit_of_work() as uow:
        uow.repository(CounterPort).add(5)
        raise RuntimeError("use case failed")
    assert counter.total == 0


def test_a_port_without_a_fake_is_a_lookup_error() -> None:
    class Other(Protocol): ...

    with InMemoryDatabase({}).unit_of_work() as uow, pytest.raises(LookupError):
        uow.repository(Other)


def test_a_read_only_unit_cannot_commit() -> None:
    with InMemoryDatabase({}).read_only() as uow, pytest.raises(RuntimeError):
        uow.commit()


def test_an_autocommit_unit_keeps_each_write_as_it_is_made() -> None:
    counter = FakeCounter()
    database = InMemoryDatabase({CounterPort: counter})
    with pytest.raises(RuntimeError), database.autocommit() as uow:
        uow.repository(CounterPort).add(2)
        raise RuntimeError("what follows the write fails")
    assert (counter.total, database.commits, database.rollbacks) == (2, 1, 0)
    with database.autocommit() as uow, pytest.raises(RuntimeError):
        uow.commit()  # nothing to commit
