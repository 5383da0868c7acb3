"""The public catalog: what `GET /v1/features` shows, rendered once and cached.

The cache holds the serialised body and its ETag per language (namespace `catalog`), so a
warm request is a local-level hit and a string copy: no query, no serialisation, no hashing.
Admin writes invalidate the namespace after they commit (`retouch.catalog.admin`).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, cast

from pydantic import BaseModel

from retouch.cache import CacheKey, JsonCodec, get_cache
from retouch.catalog.errors import FeatureNotFound
from retouch.catalog.repository import FeatureRepository, FormRepository
from retouch.catalog.schemas import KEY_PATTERN, FeatureRead
from retouch.core.schemas import Schema
from retouch.core.units import Transaction, Transactions

CACHE_NAMESPACE = "catalog"
_KEY = re.compile(KEY_PATTERN)


class FeaturePublic(Schema):
    """A feature as clients see it: name and description in their language, current form."""

    key: str
    name: str
    description: str
    cost: int
    form_schema: dict[str, Any] | None
    enabled: bool


class FeatureList(Schema):
    items: list[FeaturePublic]


class RenderedBody(Schema):
    """A response body ready to send, with its strong ETag (a hash of exactly these bytes)."""

    body: str
    etag: str


_RENDERED = JsonCodec(RenderedBody)


def is_feature_key(key: str) -> bool:
    return bool(_KEY.fullmatch(key))


def features_body(*, database: Transactions, language: str) -> RenderedBody:
    """The list of enabled features in `language`, rendered (cached)."""
    rendered = get_cache().get_or_load(
        CacheKey(CACHE_NAMESPACE, f"features.{language}"),
        lambda: _render(FeatureList(items=_load_enabled(database, language))),
        codec=_RENDERED,
    )
    return cast(RenderedBody, rendered)  # the loader never answers "absent"


def feature_body(*, database: Transactions, language: str, key: str) -> RenderedBody:
    """One enabled feature in `language`, rendered (cached); FeatureNotFound otherwise. A
    malformed key is refused before any lookup, cache included."""
    if not is_feature_key(key):
        raise FeatureNotFound(key=key[:64])
    rendered = get_cache().get_or_load(
        CacheKey(CACHE_NAMESPACE, f"feature.{key}.{language}"),
        lambda: _load_one(database, language, key),
        codec=_RENDERED,
    )
    if rendered is None:
        raise FeatureNotFound(key=key)
    return rendered


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 §13.1.2: `*` or any listed tag equal to `etag` (weak comparison)."""
    if not if_none_match:
        return False
    tags = (tag.strip() for tag in if_none_match.split(",")[:32])
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in tags)


def _render(model: BaseModel) -> RenderedBody:
    body = model.model_dump_json()
    digest = hashlib.sha256(body.encode()).hexdigest()[:32]
    return RenderedBody(body=body, etag=f'"{digest}"')


def _load_enabled(database: Transactions, language: str) -> list[FeaturePublic]:
    with database.read_only() as uow:
        features = uow.repository(FeatureRepository).list(enabled_only=True)
        return [_public(uow, feature, language) for feature in features]


def _load_one(database: Transactions, language: str, key: str) -> RenderedBody | None:
    with database.read_only() as uow:
        feature = uow.repository(FeatureRepository).get(key)
        if feature is None or not feature.enabled:
            return None  # cached as absent for the negative TTL
        return _render(_public(uow, feature, language))


def _public(uow: Transaction, feature: FeatureRead, language: str) -> FeaturePublic:
    form = (
        None
        if feature.form_version is None
        else uow.repository(FormRepository).get(feature.key, feature.form_version)
    )
    english = language == "en"
    return FeaturePublic(
        key=feature.key,
        name=feature.name_en if english else feature.name_zh,
        description=feature.description_en if english else feature.description_zh,
        cost=feature.cost,
        form_schema=None if form is None else form.json_schema,
        enabled=feature.enabled,
    )
