"""`POST /v1/callbacks/{provider}`: vendors tell us a job changed (verified, then polled).

It lives at the composition root because it needs the built engine (`get_engine`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Request, Response

from retouch.bootstrap.engine import get_engine
from retouch.http.routing import api_router
from retouch.pipeline.callbacks import receive_callback

router = api_router(prefix="/v1/callbacks", tags=["callbacks"])


@router.post(
    "/{provider}",
    status_code=204,
    responses={
        401: {"description": "UNAUTHENTICATED: the callback does not verify (problem+json)"},
        404: {"description": "NOT_FOUND: no such provider (problem+json)"},
    },
)
async def callback(
    provider: Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{1,31}$")], request: Request
) -> Response:
    """A vendor's notice that a job changed. Verified by the provider's adapter; a replay
    changes nothing; the job's state is then read from the vendor, never from this body."""
    body = await request.body()
    outcome = receive_callback(
        get_engine(), provider_key=provider, headers=dict(request.headers), body=body
    )
    return Response(status_code=204, headers={"X-Callback-Outcome": outcome})
