"""`GET /v1/features`, `GET /v1/features/{key}`: public, cached, with a strong ETag and 304."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header
from starlette.responses import Response

from retouch.catalog import public
from retouch.catalog.public import FeatureList, FeaturePublic, RenderedBody
from retouch.core.db import get_database
from retouch.http.problems import negotiate_language
from retouch.http.routing import api_router

router = api_router(prefix="/v1/features", tags=["catalog"])

#: Browsers and CDNs may reuse a body this long; an operator's change reaches them after it.
MAX_AGE_S = 5

AcceptLanguage = Annotated[str | None, Header()]
IfNoneMatch = Annotated[str | None, Header()]
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: the If-None-Match tag is current"}
}


@router.get("", response_model=None, responses={200: {"model": FeatureList}, **_NOT_MODIFIED})
def list_features(
    accept_language: AcceptLanguage = None, if_none_match: IfNoneMatch = None
) -> Response:
    """Every enabled feature, with its cost and input form, in the client's language."""
    language = negotiate_language(accept_language)
    rendered = public.features_body(database=get_database(), language=language)
    return _cached_response(rendered, language=language, if_none_match=if_none_match)


@router.get(
    "/{key}",
    response_model=None,
    responses={200: {"model": FeaturePublic}, 404: {"description": "NOT_FOUND"}, **_NOT_MODIFIED},
)
def get_feature(
    key: str, accept_language: AcceptLanguage = None, if_none_match: IfNoneMatch = None
) -> Response:
    """One enabled feature; 404 for an unknown, disabled or malformed key."""
    language = negotiate_language(accept_language)
    rendered = public.feature_body(database=get_database(), language=language, key=key)
    return _cached_response(rendered, language=language, if_none_match=if_none_match)


def _cached_response(
    rendered: RenderedBody, *, language: str, if_none_match: str | None
) -> Response:
    headers = {
        "ETag": rendered.etag,
        "Cache-Control": f"public, max-age={MAX_AGE_S}",
        "Vary": "Accept-Language",
        "Content-Language": language,
    }
    if public.etag_matches(if_none_match, rendered.etag):
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type="application/json", headers=headers)
