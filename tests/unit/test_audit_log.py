"""Reading the audit log over the in-memory log: filters, keyset pages that neither repeat
nor skip rows (ties on created_at broken by id), and cursors that only work where issued."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from retouch.audit.repository import AuditRepository
from retouch.audit.schemas import AuditEntry, AuditFilter
from retouch.audit.service import list_audit
from retouch.core.pagination import InvalidCursor
from retouch.core.settings import Settings, get_settings
from tests.fakes.audit import FakeAuditRepository
from tests.fakes.units import InMemoryDatabase

ADMIN, OTHER = "usr_admin000000001", "usr_admin000000002"


@pytest.fixture
def settings() -> Settings:
    return get_settings()


def logged(entries: list[AuditEntry], *, stamps: list[datetime] | None = None) -> InMemoryDatabase:
    moments = iter(stamps or [])
    fixed = datetime(2030, 1, 1, tzinfo=timezone.utc)
    log = FakeAuditRepository(actors={1: ADMIN, 2: OTHER}, clock=lambda: next(moments, fixed))
    for entry in entries:
        log.add(entry)
    return InMemoryDatabase({AuditRepository: log})


def grant(actor: int, target: str, amount: int) -> AuditEntry:
    return AuditEntry(
        actor_user_id=actor,
        action="user.grant_credits",
        target_type="user",
        target_id=target,
        after={"amount": amount},
    )


def every_page(
    database: InMemoryDatabase, settings: Settings, where: AuditFilter, limit: int
) -> list[list[int]]:
    pages, cursor = [], None
    while True:
        page = list_audit(
            database=database, settings=settings, where=where, cursor=cursor, limit=limit
        )
        pages.append([item.after["amount"] for item in page.items if item.after])
        cursor = page.next_cursor
        if cursor is None:
            return pages


def test_pages_cover_every_row_once_newest_first_when_times_tie(settings: Settings) -> None:
    # GIVEN 7 rows written within one millisecond (created_at ties everywhere)
    database = logged([grant(1, "usr_t", amount) for amount in range(1, 8)])

    pages = every_page(database, settings, AuditFilter(target_id="usr_t"), limit=3)

    assert pages == [[7, 6, 5], [4, 3, 2], [1]]


def test_filters_by_actor_action_target_and_time(settings: Settings) -> None:
    start = datetime(2030, 1, 1, tzinfo=timezone.utc)
    database = logged(
        [grant(1, "usr_a", 1), grant(2, "usr_a", 2), grant(1, "usr_b", 3)],
        stamps=[start, start + timedelta(minutes=1), start + timedelta(minutes=2)],
    )

    def amounts(where: AuditFilter) -> list[int]:
        page = list_audit(database=database, settings=settings, where=where, cursor=None, limit=20)
        return [item.after["amount"] for item in page.items if item.after]

    assert amounts(AuditFilter(actor=ADMIN)) == [3, 1]
    assert amounts(AuditFilter(target_id="usr_a")) == [2, 1]
    assert amounts(AuditFilter(action="user.update")) == []
    assert amounts(AuditFilter(since=start + timedelta(minutes=1))) == [3, 2]
    assert amounts(AuditFilter(until=start + timedelta(minutes=1))) == [1]


def test_a_cursor_works_only_with_the_filters_it_was_issued_for(settings: Settings) -> None:
    database = logged([grant(1, "usr_a", amount) for amount in range(1, 4)])

    def read(target: str, cursor: str | None) -> str | None:
        where = AuditFilter(target_id=target)
        page = list_audit(database=database, settings=settings, where=where, cursor=cursor, limit=1)
        return page.next_cursor

    issued = read("usr_a", None)
    assert issued is not None
    edited = ("A" if issued[0] != "A" else "B") + issued[1:]

    assert read("usr_a", issued) is not None
    for target, cursor in (("usr_b", issued), ("usr_a", edited)):
        with pytest.raises(InvalidCursor):
            read(target, cursor)
