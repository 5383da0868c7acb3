"""`AttachedRead`: the port through which another domain reads one row of the caller's in the
caller lookup's own statement (`caller.repository.MySQLCallerRepository.caller`), so a route
that needs the caller and that row pays one round trip. Apart from the auth schemas so that
the domains implementing it do not import the token machinery (PyJWT, cryptography)."""

from __future__ import annotations

from typing import Protocol, TypeVar

from retouch.core.db import Row

T_co = TypeVar("T_co", covariant=True)


class AttachedRead(Protocol[T_co]):
    """A documented read owned by the domain of its table (e.g. `tasks.caller_read`): the
    lookup adds `columns()` to its select list and `join()` — a `LEFT JOIN` on the caller,
    `u.id` — to its `FROM`, fills the join's placeholders with `params()`, and hands the row
    back to `parse`, which gives the domain's record (None: the caller has no such row).
    Columns and join are constant SQL; every value is a parameter."""

    def columns(self) -> str: ...

    def join(self) -> str: ...

    def params(self) -> tuple[object, ...]: ...

    def parse(self, row: Row) -> T_co | None: ...
