"""The ledger as the user reads it: newest first, in keyset pages."""

from __future__ import annotations

import base64
import re

import pytest

from retouch.core.pagination import InvalidCursor, encode_cursor
from retouch.core.settings import get_settings
from retouch.quota.reservations import reserve
from retouch.quota.service import list_ledger
from tests.fakes.units import InMemoryDatabase
from tests.unit.quota.conftest import USER, at


def reserve_each(database: InMemoryDatabase, count: int) -> None:
    for number in range(count):
        reserve(database=database, user_id=USER, amount=1, task_ref=f"t{number}", clock=at())


def test_the_ledger_lists_the_newest_row_first(database: InMemoryDatabase) -> None:
    reserve_each(database, 2)

    page = list_ledger(database=database, settings=get_settings(), user_id=USER, cursor=None)

    assert [(item.kind, item.balance_after) for item in page.items] == [
        ("reserve", 8),
        ("reserve", 9),
        ("period_grant", 10),
    ]
    assert page.next_cursor is None


def test_pages_follow_each_other_without_gaps_or_repeats(database: InMemoryDatabase) -> None:
    reserve_each(database, 4)  # five rows with the opening grant
    seen: list[int] = []
    cursor = None
    for _ in range(3):
        page = list_ledger(
            database=database, settings=get_settings(), user_id=USER, cursor=cursor, limit=2
        )
        seen.extend(item.balance_after for item in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break

    assert seen == [6, 7, 8, 9, 10]
    assert cursor is None


def test_a_full_last_page_has_no_next_cursor(database: InMemoryDatabase) -> None:
    reserve_each(database, 1)

    page = list_ledger(
        database=database, settings=get_settings(), user_id=USER, cursor=None, limit=2
    )

    assert (len(page.items), page.next_cursor) == (2, None)


def test_the_ledger_shows_only_the_users_own_rows(database: InMemoryDatabase) -> None:
    page = list_ledger(database=database, settings=get_settings(), user_id=USER + 1, cursor=None)

    assert (page.items, page.next_cursor) == ([], None)


@pytest.mark.parametrize("cursor", ["not-a-cursor", encode_cursor((0,)), encode_cursor(("x",))])
def test_a_malformed_cursor_is_refused(database: InMemoryDatabase, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        list_ledger(database=database, settings=get_settings(), user_id=USER, cursor=cursor)


@pytest.mark.parametrize("limit", [0, 101, -1])
def test_a_page_size_outside_the_bounds_is_refused(database: InMemoryDatabase, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        list_ledger(
            database=database, settings=get_settings(), user_id=USER, cursor=None, limit=limit
        )


def _first_cursor(database: InMemoryDatabase, user_id: int = USER) -> str:
    page = list_ledger(
        database=database, settings=get_settings(), user_id=user_id, cursor=None, limit=1
    )
    assert page.next_cursor is not None
    return page.next_cursor


def test_the_cursor_shows_no_internal_row_id(database: InMemoryDatabase) -> None:
    reserve_each(database, 3)

    cursor = _first_cursor(database)

    for part in cursor.split("."):
        decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
        assert not re.search(rb"\[\d+\]", decoded)
    assert (
        list_ledger(
            database=database, settings=get_settings(), user_id=USER, cursor=cursor, limit=1
        )
        .items[0]
        .balance_after
        == 8
    )


def test_an_edited_cursor_is_refused(database: InMemoryDatabase) -> None:
    reserve_each(database, 3)
    cursor = _first_cursor(database)
    edited = ("B" if cursor[0] == "A" else "A") + cursor[1:]

    with pytest.raises(InvalidCursor):
        list_ledger(database=database, settings=get_settings(), user_id=USER, cursor=edited)


def test_another_users_cursor_is_refused(database: InMemoryDatabase) -> None:
    reserve_each(database, 3)
    cursor = _first_cursor(database)

    with pytest.raises(InvalidCursor):
        list_ledger(database=database, settings=get_settings(), user_id=USER + 1, cursor=cursor)
