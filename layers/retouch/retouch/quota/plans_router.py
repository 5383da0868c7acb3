"""`GET /v1/plans`: the plan catalogue, public (users function)."""

from __future__ import annotations

from fastapi import Response

from retouch.core.db import get_database
from retouch.http.routing import api_router
from retouch.quota import service
from retouch.quota.schemas import PlanList

router = api_router(prefix="/v1/plans", tags=["plans"])

#: Browsers and CDNs may reuse the list this long; an operator's change reaches them after it.
MAX_AGE_S = 60


@router.get("", response_model=PlanList)
def list_plans(response: Response) -> PlanList:
    """Every plan with its monthly credits, features, displayed price and limits; no
    sign-in needed."""
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE_S}"
    return service.list_plans(database=get_database())
