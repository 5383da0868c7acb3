"""`GET /v1/admin/plans` and `PUT /v1/admin/plans/{code}` (users function): the plan
catalogue as admins edit it (CONFIG_READ to read, PLANS_WRITE — admins only — to edit)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Response

from retouch.caller.dependencies import require_permission
from retouch.core.db import get_database
from retouch.core.errors import raises
from retouch.core.identity import Principal
from retouch.core.permissions import Permission
from retouch.core.settings import get_settings
from retouch.http.dependencies import RequestId
from retouch.http.routing import api_router
from retouch.quota.errors import PlanVersionRequired, PlanVersionStale
from retouch.quota.schemas import PlanAdminList, PlanAdminRead, PlanEdit
from retouch.users import plan_admin

router = api_router(prefix="/v1/admin/plans", tags=["admin"])

PlanCode = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,31}$", description="the plan's code")]


@router.get("", response_model=PlanAdminList)
def list_plans(
    _caller: Annotated[Principal, Depends(require_permission(Permission.CONFIG_READ))],
) -> PlanAdminList:
    """Every plan, archived ones included, with the version an edit names in If-Match."""
    return plan_admin.list_plans(database=get_database())


@router.put("/{code}", response_model=PlanAdminRead)
@raises(PlanVersionRequired, PlanVersionStale)
def edit_plan(
    code: PlanCode,
    edit: PlanEdit,
    response: Response,
    caller: Annotated[Principal, Depends(require_permission(Permission.PLANS_WRITE))],
    request: RequestId,
    if_match: Annotated[str | None, Header(max_length=64)] = None,
) -> PlanAdminRead:
    """Replace a plan's fields (admins only; audited). Send `If-Match: "<version>"` with the
    version you read: an edit made since is 412, none sent is 428. `archived` takes the plan
    out of the catalogue and of new memberships; a plan is never deleted."""
    plan = plan_admin.edit_plan(
        database=get_database(),
        settings=get_settings(),
        actor=caller,
        code=code,
        edit=edit,
        if_match=if_match,
        request_id=request,
    )
    response.headers["ETag"] = f'"{plan.version}"'
    return plan
