"""The in-memory unit of work: one fake per port, shared by every unit of work of one
`InMemoryDatabase`; a unit that ends without `commit()` puts every fake back as it found it,
as a rolled-back transaction would."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from types import TracebackType
from typing import Any, TypeVar

P = TypeVar("P")


class InMemoryDatabase:
    """`Transactions` over fakes: `InMemoryDatabase({TaskRepository: FakeTaskRepository()})`."""

    def __init__(self, fakes: Mapping[type[Any], object]) -> None:
        self.fakes = dict(fakes)
        self.commits = 0
        self.rollbacks = 0

    def unit_of_work(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)

    def read_only(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self, read_only=True)

    def autocommit(self) -> InMemoryUnitOfWork:
        """Each write kept as it is made: nothing to commit, nothing rolled back."""
        return InMemoryUnitOfWork(self, read_only=True, autocommit=True)


class InMemoryUnitOfWork:
    def __init__(
        self, database: InMemoryDatabase, *, read_only: bool = False, autocommit: bool = False
    ) -> None:
        self._database = database
        self._read_only = read_only
        self._autocommit = autocommit
        self._snapshot: dict[int, dict[str, Any]] | None = None

    def __enter__(self) -> InMemoryUnitOfWork:
        self._begin()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.rollback()

    def _begin(self) -> None:
        self._snapshot = {
            id(fake): copy.deepcopy(vars(fake)) for fake in self._database.fakes.values()
        }

    def repository(self, port: type[P]) -> P:
        try:
            return self._database.fakes[port]  # type: ignore[return-value]
        except KeyError:
            raise LookupError(f"no fake given for {port.__name__}") from None

    def commit(self) -> None:
        if self._read_only:
            raise RuntimeError("a read-only unit of work has nothing to commit")
        self._database.commits += 1
        self._begin()  # what follows in this unit is a new transaction

    def rollback(self) -> None:
        if self._snapshot is None:
            return
        if self._autocommit:  # what it wrote stays, committed as it was written
            snapshot, self._snapshot = self._snapshot, None
            fakes = self._database.fakes.values()
            self._database.commits += any(vars(f) != snapshot[id(f)] for f in fakes)
            return
        changed = False
        for fake in self._database.fakes.values():
            before = self._snapshot[id(fake)]
            if vars(fake) != before:
                vars(fake).clear()
                vars(fake).update(before)
                changed = True
        self._database.rollbacks += changed
        self._snapshot = None
