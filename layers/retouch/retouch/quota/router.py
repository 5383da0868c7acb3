"""The caller's credits: `GET /v1/me/quota` and `GET /v1/me/quota/ledger` (users function)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from retouch.caller.dependencies import current_user
from retouch.core.db import get_database
from retouch.core.identity import Principal
from retouch.core.settings import get_settings
from retouch.http.routing import api_router
from retouch.quota import service
from retouch.quota.schemas import MAX_PAGE_SIZE, LedgerPage, QuotaRead

router = api_router(prefix="/v1/me/quota", tags=["quota"])

Caller = Annotated[Principal, Depends(current_user)]


@router.get("", response_model=QuotaRead)
def read_quota(caller: Caller) -> QuotaRead:
    """Spendable balance, credits reserved by unfinished tasks, plan and period end."""
    return service.get_quota(database=get_database(), user_id=caller.user.id)


@router.get("/ledger", response_model=LedgerPage)
def read_ledger(
    caller: Caller,
    cursor: Annotated[str | None, Query(max_length=512, description="a page's next_cursor")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> LedgerPage:
    """The caller's credit ledger, newest first: every grant, reservation, charge, refund."""
    return service.list_ledger(
        database=get_database(),
        settings=get_settings(),
        user_id=caller.user.id,
        cursor=cursor,
        limit=limit,
    )
