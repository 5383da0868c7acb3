"""Units of work as use cases see them: a transaction that hands out repositories by their
port, and the source of such transactions (DESIGN §2, STYLE: "repository and unit of work as
small interfaces with a real SQL implementation and a working in-memory fake").

A domain declares its repository port (a `Protocol`) and registers its SQL adapter beside it
with `sql_adapter(Port)`; a use case asks its unit of work for `uow.repository(Port)`. The SQL
unit of work (`core.db.UnitOfWork`) builds the registered adapter over its connection; the
in-memory unit of work of the unit tests (`tests/fakes`) answers with a fake that keeps the
same rules. So the business rules run unchanged against either, and nothing here imports a
domain: the domains register themselves when their repository module is imported, which the
port's own import guarantees (port and adapter share the module).
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol, TypeVar

P = TypeVar("P")

#: Port → SQL adapter class (built with the SQL unit of work it serves).
_SQL_ADAPTERS: dict[type[Any], Callable[[Any], Any]] = {}


def sql_adapter(port: type[Any]) -> Callable[[type[P]], type[P]]:
    """Class decorator: register the decorated class as the SQL adapter of `port`."""

    def register(adapter: type[P]) -> type[P]:
        _SQL_ADAPTERS[port] = adapter
        return adapter

    return register


def sql_adapter_of(port: type[P]) -> Callable[[Any], P]:
    """The SQL adapter registered for `port`; LookupError when none is."""
    try:
        return _SQL_ADAPTERS[port]
    except KeyError:
        raise LookupError(f"no SQL adapter registered for {port.__name__}") from None


class Transaction(Protocol):
    """One unit of work: rolled back on exit unless `commit()` was called."""

    def __enter__(self) -> Transaction: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def repository(self, port: type[P]) -> P:
        """The repository for `port` bound to this unit of work (one per port)."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...


class Transactions(Protocol):
    """Where units of work come from: the database (`core.db.Database`) or a fake."""

    def unit_of_work(self) -> Transaction:
        """A transaction for a use case that writes (or must read under locks)."""
        ...

    def read_only(self) -> Transaction:
        """Reads only: the SQL adapter runs each statement in autocommit."""
        ...

    def autocommit(self) -> Transaction:
        """A write that stands alone, committed as it runs (no BEGIN or COMMIT)."""
        ...
