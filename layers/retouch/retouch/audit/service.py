"""Reading the audit log: one page of rows, newest first, with a sealed keyset cursor."""

from __future__ import annotations

from datetime import datetime, timezone

from retouch.audit.repository import AuditRepository
from retouch.audit.schemas import MAX_PAGE_SIZE, AuditFilter, AuditPage, AuditRead
from retouch.core.pagination import InvalidCursor, decode_cursor, encode_cursor
from retouch.core.security import derived_key
from retouch.core.settings import Settings
from retouch.core.units import Transactions


def list_audit(
    *,
    database: Transactions,
    settings: Settings,
    where: AuditFilter,
    cursor: str | None,
    limit: int,
) -> AuditPage:
    """The rows `where` keeps, newest first, `limit` (≤ 100) per page.

    The cursor holds the last row's (created_at, id) — an internal id, so it is sealed — and
    is bound to the filters: an edited cursor, or one of another filter, is a 422."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError("limit is checked by the router")
    secret = derived_key(settings, "audit-cursor")
    context = _context(where)
    after = None
    if cursor is not None:
        created_ms, last_id = decode_cursor(cursor, (int, int), secret=secret, context=context)
        if not 0 <= int(created_ms) < 2**47 or int(last_id) < 1:
            raise InvalidCursor
        after = (datetime.fromtimestamp(int(created_ms) / 1000, timezone.utc), int(last_id))
    with database.read_only() as uow:
        rows = uow.repository(AuditRepository).page(where=where, after=after, limit=limit + 1)
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        key = (round(last.created_at.timestamp() * 1000), last.id)
        next_cursor = encode_cursor(key, secret=secret, context=context)
    return AuditPage(items=[AuditRead.of(row) for row in page], next_cursor=next_cursor)


def _context(where: AuditFilter) -> str:
    moments = (where.since, where.until)
    return "audit|" + "|".join(
        [where.actor or "", where.action or "", where.target_type or "", where.target_id or ""]
        + ["" if moment is None else moment.isoformat() for moment in moments]
    )
