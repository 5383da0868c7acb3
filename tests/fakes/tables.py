"""What fakes share with the tables they stand for: the error a broken constraint raises, and
tables that other fakes read (as SQL joins them)."""

from __future__ import annotations

from typing import Any

import pymysql


def constraint_violated(name: str) -> pymysql.err.IntegrityError:
    """What the server raises when a statement breaks a key or a CHECK constraint."""
    return pymysql.err.IntegrityError(4025, f"CONSTRAINT `{name}` failed")


class SharedTable:
    """A fake other fakes read, as SQL joins a table: a snapshot of a reader (the in-memory
    unit of work deep-copies each fake's fields) keeps the reference, never a copy."""

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedTable:
        return self
