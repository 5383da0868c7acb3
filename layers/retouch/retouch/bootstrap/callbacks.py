"""`POST /v1/callbacks/{provider}/{token}`: vendors tell us a job changed (a prompt to poll).

Every callback gets the same empty 204 — heard, forged, replayed, debounced, for a job that
does not exist or a provider we do not use, and at the token-less `/v1/callbacks/{provider}`
older jobs were given — so a caller learns nothing from the answer
(`pipeline.callbacks` logs and counts what happened). The path's segments are not validated
by pattern either: a 422 would tell a prober which shapes we accept. The token is a path
segment, and the access log names the route's template, never the path.

It lives at the composition root because it needs the built engine (`get_engine`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request, Response

from retouch.bootstrap.engine import get_engine
from retouch.core.settings import get_settings
from retouch.http.routing import api_router
from retouch.pipeline.callbacks import receive_callback
from retouch.pipeline.engine import Engine

router = api_router(prefix="/v1/callbacks", tags=["callbacks"])


async def callback_engine() -> Engine:
    """The instance's engine, as a dependency (`async`: FastAPI runs a plain `def` one in a
    worker thread)."""
    return get_engine()


#: The one answer of both routes, as the OpenAPI document states it.
ANSWER: dict[int | str, dict[str, Any]] = {
    204: {
        "description": "Always, whatever the callback: it was heard, or it changed nothing "
        "(what happened is logged, never answered)"
    }
}


@router.post("/{provider}/{token}", status_code=204, response_class=Response, responses=ANSWER)
async def callback(
    provider: str,
    token: str,
    request: Request,
    engine: Annotated[Engine, Depends(callback_engine)],
) -> Response:
    """A vendor's notice that a job changed, at the URL the job was given (its own secret
    `token`). Verified by the provider's adapter and the token; a replay, or a callback
    within the job's prompt interval, changes nothing; the job's state is then read from the
    vendor, never from this body."""
    receive_callback(
        engine,
        provider_key=provider,
        token=token,
        headers=dict(request.headers),
        body=await request.body(),
        prompt_interval_s=get_settings().callback_prompt_interval_s,
    )
    return Response(status_code=204)


@router.post("/{provider}", status_code=204, response_class=Response, responses=ANSWER)
async def callback_without_token(
    provider: str, request: Request, engine: Annotated[Engine, Depends(callback_engine)]
) -> Response:
    """Where jobs submitted before callback tokens were told to call back: heard as a callback
    whose token is wrong, so it changes nothing, and answered the same 204."""
    return await callback(provider, "", request, engine)
