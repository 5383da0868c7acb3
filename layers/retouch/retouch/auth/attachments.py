"""`CallerAttachment`, apart from the auth schemas so that repositories which build one (the
tasks repository, used by the step functions too) do not import the token machinery (PyJWT,
cryptography) with them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CallerAttachment:
    """One row of the caller's from another table, read in the caller's own statement, so a
    route that reads it saves a round trip. `columns` and `join` are constant SQL of the
    repository that owns the table: `join` is a `LEFT JOIN` on `u.id` (the caller) whose
    placeholders `params` fill, and every column is aliased with a prefix of its own."""

    columns: str
    join: str
    params: tuple[object, ...]
