"""The ledger as the user reads it: newest first, keyset pages without gaps or repeats."""

from __future__ import annotations

import pytest

from retouch.core.db import Database, get_database
from retouch.core.pagination import InvalidCursor, encode_cursor
from retouch.core.settings import get_settings
from retouch.quota.reservations import charge, refund, reserve
from retouch.quota.schemas import LedgerEntryRead
from retouch.quota.service import list_ledger
from tests.conftest import Stack
from tests.integration.quota_support import assert_ledger_matches, new_ref, new_user

pytestmark = pytest.mark.integration


@pytest.fixture
def database(stack: Stack) -> Database:
    return get_database()


def all_pages(database: Database, user_id: int, limit: int) -> list[list[LedgerEntryRead]]:
    pages, cursor = [], None
    while True:
        page = list_ledger(
            database=database, settings=get_settings(), user_id=user_id, cursor=cursor, limit=limit
        )
        pages.append(page.items)
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def test_pages_cover_the_whole_ledger_newest_first_without_gaps_or_repeats(
    database: Database,
) -> None:
    user_id = new_user(database)
    for amount in range(1, 12):  # 11 reserves, 6 refunds, 5 charges: 23 rows with the grant
        ref = new_ref()
        reserve(database=database, user_id=user_id, amount=amount, task_ref=ref)
        (refund if amount % 2 else charge)(database=database, task_ref=ref)

    pages = all_pages(database, user_id, limit=5)

    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    entries = [entry for page in pages for entry in page]
    assert (
        entries
        == list_ledger(
            database=database, settings=get_settings(), user_id=user_id, cursor=None, limit=100
        ).items
    )
    assert entries[-1].kind == "period_grant" and entries[-1].amount == 100
    assert_ledger_matches(database, user_id)


def test_a_page_exactly_at_the_end_has_no_next_cursor(database: Database) -> None:
    user_id = new_user(database)
    reserve(database=database, user_id=user_id, amount=1, task_ref=new_ref())

    page = list_ledger(
        database=database, settings=get_settings(), user_id=user_id, cursor=None, limit=2
    )

    assert len(page.items) == 2 and page.next_cursor is None


def test_rows_written_while_paging_do_not_shift_the_pages(database: Database) -> None:
    user_id = new_user(database)
    for _ in range(4):
        reserve(database=database, user_id=user_id, amount=1, task_ref=new_ref())
    first = list_ledger(
        database=database, settings=get_settings(), user_id=user_id, cursor=None, limit=3
    )

    reserve(database=database, user_id=user_id, amount=1, task_ref=new_ref())
    second = list_ledger(
        database=database,
        settings=get_settings(),
        user_id=user_id,
        cursor=first.next_cursor,
        limit=3,
    )

    assert [entry.balance_after for entry in first.items + second.items] == [96, 97, 98, 99, 100]


def test_a_user_sees_only_their_own_rows(database: Database) -> None:
    user_id, other_id = new_user(database), new_user(database)
    reserve(database=database, user_id=other_id, amount=5, task_ref=new_ref())

    page = list_ledger(
        database=database, settings=get_settings(), user_id=user_id, cursor=None, limit=100
    )

    assert [(entry.kind, entry.amount) for entry in page.items] == [("period_grant", 100)]


@pytest.mark.parametrize("cursor", ["garbage", encode_cursor((0,)), encode_cursor(("1",))])
def test_a_bad_cursor_is_a_validation_error(database: Database, cursor: str) -> None:
    with pytest.raises(InvalidCursor):
        list_ledger(database=database, settings=get_settings(), user_id=1, cursor=cursor, limit=10)


@pytest.mark.parametrize("limit", [0, 101])
def test_the_page_size_is_bounded(database: Database, limit: int) -> None:
    with pytest.raises(ValueError, match="limit"):
        list_ledger(database=database, settings=get_settings(), user_id=1, cursor=None, limit=limit)
