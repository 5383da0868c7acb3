"""Calendar-month periods and opaque keyset cursors (no servers)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import pytest

from retouch.core.pagination import InvalidCursor, decode_cursor, encode_cursor
from retouch.quota.periods import month_of


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("moment", "start", "end"),
    [
        (utc(2030, 1, 31, 23, 59), utc(2030, 1, 1), utc(2030, 2, 1)),
        (utc(2030, 2, 1), utc(2030, 2, 1), utc(2030, 3, 1)),
        (utc(2030, 12, 31, 23), utc(2030, 12, 1), utc(2031, 1, 1)),
        # 2030-03-01 01:00 in UTC+8 is still February in UTC
        (
            utc(2030, 3, 1, 1).astimezone(timezone(timedelta(hours=8))) - timedelta(hours=2),
            utc(2030, 2, 1),
            utc(2030, 3, 1),
        ),
    ],
)
def test_periods_are_calendar_months_in_utc(
    moment: datetime, start: datetime, end: datetime
) -> None:
    assert month_of(moment) == (start, end)


def test_a_cursor_round_trips_its_key() -> None:
    cursor = encode_cursor((12345,))

    assert decode_cursor(cursor, (int,)) == (12345,)
    assert "12345" not in cursor  # opaque to the eye, at least


def test_a_composite_cursor_round_trips() -> None:
    key = ("2030-01-02T03:04:05.678Z", 9)

    assert decode_cursor(encode_cursor(key), (str, int)) == key


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 !",
        encode_cursor(("12",)),  # wrong type
        encode_cursor((1, 2)),  # wrong length
        "dHJ1ZQ",  # base64 of `true`: JSON, not a list
        "W3RydWVd",  # `[true]`: a bool is not an int
        "/////w",  # bytes that are not UTF-8
        "A" * 600,
    ],
)
def test_a_malformed_cursor_is_a_validation_error(cursor: str) -> None:
    with pytest.raises(InvalidCursor) as raised:
        decode_cursor(cursor, (int,))

    assert raised.value.code == "VALIDATION_FAILED"
    assert raised.value.errors[0].field == "query.cursor"


SECRET = b"k" * 32


def _flip(cursor: str, index: int) -> str:
    """`cursor` with its character at `index` changed (a first character carries 6 bits)."""
    return cursor[:index] + ("B" if cursor[index] == "A" else "A") + cursor[index + 1 :]


def _decoded_parts(cursor: str) -> list[bytes]:
    return [base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in cursor.split(".")]


def test_a_sealed_cursor_round_trips_and_hides_its_key() -> None:
    cursor = encode_cursor((296,), secret=SECRET, context="user-1")

    assert decode_cursor(cursor, (int,), secret=SECRET, context="user-1") == (296,)
    assert "296" not in cursor
    assert all(b"296" not in part for part in _decoded_parts(cursor))


@pytest.mark.parametrize(
    "edit",
    [
        lambda cursor: _flip(cursor, 0),  # the sealed key
        lambda cursor: _flip(cursor, cursor.index(".") + 1),  # the tag
        lambda cursor: cursor.split(".")[0],  # no tag
        lambda cursor: encode_cursor((297,)),  # an unsealed key
        lambda cursor: encode_cursor((297,), secret=b"x" * 32, context="user-1"),  # another key
    ],
)
def test_an_edited_sealed_cursor_is_refused(edit: Callable[[str], str]) -> None:
    cursor = encode_cursor((296,), secret=SECRET, context="user-1")

    with pytest.raises(InvalidCursor):
        decode_cursor(edit(cursor), (int,), secret=SECRET, context="user-1")


def test_a_sealed_cursor_is_refused_in_another_context() -> None:
    cursor = encode_cursor((296,), secret=SECRET, context="user-1")

    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, (int,), secret=SECRET, context="user-2")
