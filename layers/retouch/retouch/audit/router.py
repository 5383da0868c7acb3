"""`/v1/admin/audit`: the audit log, for admins (`audit:read`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from retouch.audit import service
from retouch.audit.schemas import AuditPage, AuditQuery
from retouch.caller.dependencies import require_permission
from retouch.core.db import get_database
from retouch.core.identity import Principal
from retouch.core.permissions import Permission
from retouch.core.settings import get_settings
from retouch.http.routing import api_router

router = api_router(prefix="/v1/admin/audit", tags=["admin"])


@router.get("", response_model=AuditPage)
def list_audit(
    _caller: Annotated[Principal, Depends(require_permission(Permission.AUDIT_READ))],
    query: Annotated[AuditQuery, Query()],
) -> AuditPage:
    """Audit rows newest first, filtered by actor (a user id), action, target and time
    (`since` inclusive, `until` exclusive); pass `next_cursor` back as `cursor`."""
    return service.list_audit(
        database=get_database(),
        settings=get_settings(),
        where=query.audit_filter(),
        cursor=query.cursor,
        limit=query.limit,
    )
