"""Opaque keyset cursors: the sort key of the last row of a page, encoded for the client.

A cursor is base64url of a small JSON array (`[id]`, or `[created_at, id]`); clients treat
it as opaque. With a `secret`, the cursor is sealed: it carries an HMAC-SHA256 tag (128 bits)
over the key and a `context` (e.g. the caller's id), so a cursor edited by a client, or issued
to another user, is refused; and the key itself is encrypted (XOR with an HMAC keystream
seeded by the tag, a deterministic SIV construction), so an internal row id in it cannot be
read. Anything that does not decode to the expected shape, or whose tag does not verify, is a
422 on `cursor`, never a 500 and never a silently restarted list.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from typing import TypeVar

from retouch.core.errors import FieldError, ValidationFailed

CursorKey = tuple[int | str, ...]
T = TypeVar("T")

_MAX_CURSOR_LENGTH = 512
_TAG_BYTES = 16


class InvalidCursor(ValidationFailed):
    """The `cursor` query parameter was not produced by this API for this list."""

    def __init__(self, field: str = "query.cursor") -> None:
        super().__init__(
            "The cursor is invalid",
            errors=[FieldError(field=field, message="invalid cursor", type="cursor_invalid")],
        )


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tag(raw: bytes, secret: bytes, context: str) -> bytes:
    message = context.encode() + b"\x00" + raw
    return hmac.new(secret, message, hashlib.sha256).digest()[:_TAG_BYTES]


def _xor_keystream(data: bytes, secret: bytes, tag: bytes) -> bytes:
    """`data` XOR a keystream from the tag under a key of its own (encrypts and decrypts)."""
    seal_key = hmac.new(secret, b"retouch/cursor-seal", hashlib.sha256).digest()
    stream = b"".join(
        hmac.new(seal_key, tag + block.to_bytes(4, "big"), hashlib.sha256).digest()
        for block in range(-(-len(data) // 32))
    )
    return bytes(left ^ right for left, right in zip(data, stream, strict=False))


def encode_cursor(
    key: Sequence[int | str], *, secret: bytes | None = None, context: str = ""
) -> str:
    """The opaque cursor for a sort key; sealed (`ciphertext.tag`) when a secret is given."""
    raw = json.dumps(list(key), separators=(",", ":")).encode()
    if secret is None:
        return _b64(raw)
    tag = _tag(raw, secret, context)
    return f"{_b64(_xor_keystream(raw, secret, tag))}.{_b64(tag)}"


def decode_cursor(
    cursor: str,
    shape: Sequence[type[int] | type[str]],
    *,
    secret: bytes | None = None,
    context: str = "",
) -> CursorKey:
    """The sort key in `cursor`, checked against `shape` (e.g. `(int,)`) and, with a secret,
    against its tag; else InvalidCursor."""
    if not cursor or len(cursor) > _MAX_CURSOR_LENGTH:
        raise InvalidCursor
    try:
        if secret is None:
            raw = _unb64(cursor)
        else:
            sealed, _, tag_text = cursor.partition(".")
            tag = _unb64(tag_text)
            raw = _xor_keystream(_unb64(sealed), secret, tag)
            if len(tag) != _TAG_BYTES or not hmac.compare_digest(tag, _tag(raw, secret, context)):
                raise InvalidCursor
        key = json.loads(raw)
    except (binascii.Error, ValueError):  # UnicodeDecodeError and JSONDecodeError included
        raise InvalidCursor from None
    if not isinstance(key, list) or len(key) != len(shape):
        raise InvalidCursor
    # bool is an int to Python; a cursor never holds one.
    if not all(type(value) is kind for value, kind in zip(key, shape, strict=True)):
        raise InvalidCursor
    return tuple(key)


def decode_row_cursor(cursor: str | None, *, secret: bytes, context: str) -> int | None:
    """The row id sealed in a cursor of a list keyed on row ids, newest first (None: the
    first page); InvalidCursor when it is edited, malformed or of another context."""
    if cursor is None:
        return None
    (key,) = decode_cursor(cursor, (int,), secret=secret, context=context)
    if not isinstance(key, int) or key < 1:
        raise InvalidCursor
    return key


def row_page(
    rows: Sequence[T], *, limit: int, row_id: Callable[[T], int], secret: bytes, context: str
) -> tuple[list[T], str | None]:
    """A page of `rows` (read with `limit + 1` to learn whether more follow) and the sealed
    cursor of the next one, or None on the last page."""
    page = list(rows[:limit])
    if len(rows) <= limit:
        return page, None
    return page, encode_cursor((row_id(page[-1]),), secret=secret, context=context)
