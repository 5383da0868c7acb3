"""Opaque keyset cursors: the sort key of the last row of a page, encoded for the client.

A cursor is base64url of a small JSON array (`[id]`, or `[created_at, id]`); clients treat
it as opaque. Anything that does not decode to the expected shape is a 422 on `cursor`,
never a 500 and never a silently restarted list.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence

from retouch.core.errors import FieldError, ValidationFailed

CursorKey = tuple[int | str, ...]

_MAX_CURSOR_LENGTH = 512


class InvalidCursor(ValidationFailed):
    """The `cursor` query parameter was not produced by this API for this list."""

    def __init__(self, field: str = "query.cursor") -> None:
        super().__init__(
            "The cursor is invalid",
            errors=[FieldError(field=field, message="invalid cursor", type="cursor_invalid")],
        )


def encode_cursor(key: Sequence[int | str]) -> str:
    """The opaque cursor for a sort key."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, shape: Sequence[type[int] | type[str]]) -> CursorKey:
    """The sort key in `cursor`, checked against `shape` (e.g. `(int,)`); else InvalidCursor."""
    if not cursor or len(cursor) > _MAX_CURSOR_LENGTH:
        raise InvalidCursor
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError included
        raise InvalidCursor from None
    if not isinstance(key, list) or len(key) != len(shape):
        raise InvalidCursor
    # bool is an int to Python; a cursor never holds one.
    if not all(type(value) is kind for value, kind in zip(key, shape, strict=True)):
        raise InvalidCursor
    return tuple(key)
