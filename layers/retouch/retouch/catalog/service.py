"""Catalog use cases: read features, forms, pipelines and providers; store new versions.

Writes validate first and raise `ConfigInvalid` (422) before their transaction opens, so a
rejected form, pipeline or provider stores nothing. Form and pipeline versions are only
added, never changed: a task keeps the exact version it was created with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from retouch.catalog.admin_schemas import ProviderHealthRead
from retouch.catalog.errors import FeatureNotFound, VersionNotFound
from retouch.catalog.form_rules import check_form_schema
from retouch.catalog.repository import (
    FeatureRepository,
    FormRepository,
    PipelineRepository,
    ProviderConfigRepository,
    VersionKind,
)
from retouch.catalog.schemas import (
    CatalogSeed,
    FeatureRead,
    FormSchema,
    PipelineSchema,
    PipelineStep,
    ProviderRead,
    ProviderWrite,
)
from retouch.catalog.validation import check_pipeline, check_provider
from retouch.core.units import Transaction, Transactions
from retouch.providers.guards import HEALTH_WINDOW_S, ProviderGuards

#: Called in a write's transaction with the new version, before the commit (the admin API
#: records its audit row there, so a version without its audit row cannot exist).
VersionHook = Callable[[Transaction, int], None]


def get_feature(*, database: Transactions, key: str) -> FeatureRead:
    """One feature, enabled or not; FeatureNotFound (404) if there is none."""
    with database.read_only() as uow:
        feature = uow.repository(FeatureRepository).get(key)
    if feature is None:
        raise FeatureNotFound(key=key)
    return feature


def list_features(*, database: Transactions, enabled_only: bool = True) -> list[FeatureRead]:
    """Every feature (only the enabled ones by default), ordered by key."""
    with database.read_only() as uow:
        return uow.repository(FeatureRepository).list(enabled_only=enabled_only)


def get_form(*, database: Transactions, feature_key: str, version: int) -> FormSchema:
    """One version of a feature's form, current or old; VersionNotFound (404)."""
    with database.read_only() as uow:
        form = uow.repository(FormRepository).get(feature_key, version)
    if form is None:
        raise VersionNotFound(key=feature_key, kind="form", version=version)
    return form


def get_pipeline(*, database: Transactions, feature_key: str, version: int) -> PipelineSchema:
    """One version of a feature's pipeline, current or old; VersionNotFound (404)."""
    with database.read_only() as uow:
        pipeline = uow.repository(PipelineRepository).get(feature_key, version)
    if pipeline is None:
        raise VersionNotFound(key=feature_key, kind="pipeline", version=version)
    return pipeline


def list_providers(*, database: Transactions) -> list[ProviderRead]:
    """Every provider config, ordered by key (credential references only, never secrets)."""
    with database.read_only() as uow:
        return uow.repository(ProviderConfigRepository).list()


def add_form_version(
    *,
    database: Transactions,
    feature_key: str,
    json_schema: Any,
    created_by: int | None,
    make_current: bool = False,
    language: str = "en",
    on_added: VersionHook | None = None,
) -> FormSchema:
    """Validate and store the next version of a feature's form; optionally switch to it."""
    schema = check_form_schema(json_schema, language=language)
    with database.unit_of_work() as uow:
        version = _add_version(
            uow,
            uow.repository(FormRepository),
            kind="form",
            feature_key=feature_key,
            document=schema,
            created_by=created_by,
            make_current=make_current,
            on_added=on_added,
        )
        uow.commit()
    return get_form(database=database, feature_key=feature_key, version=version)


def add_pipeline_version(
    *,
    database: Transactions,
    feature_key: str,
    steps: Any,
    created_by: int | None,
    make_current: bool = False,
    language: str = "en",
    on_added: VersionHook | None = None,
) -> PipelineSchema:
    """Validate (known steps, existing providers) and store the next version of a feature's
    pipeline; optionally switch to it."""
    with database.unit_of_work() as uow:
        providers = uow.repository(ProviderConfigRepository).keys()
        checked = check_pipeline(steps, providers=providers, language=language)
        version = _add_version(
            uow,
            uow.repository(PipelineRepository),
            kind="pipeline",
            feature_key=feature_key,
            document=_stored_steps(checked),
            created_by=created_by,
            make_current=make_current,
            on_added=on_added,
        )
        uow.commit()
    return get_pipeline(database=database, feature_key=feature_key, version=version)


def _add_version(
    uow: Transaction,
    repository: FormRepository | PipelineRepository,
    *,
    kind: VersionKind,
    feature_key: str,
    document: Any,
    created_by: int | None,
    make_current: bool,
    on_added: VersionHook | None,
) -> int:
    """Store the feature's next `kind` version under the feature's row lock; optionally make
    it current and let the caller record it (audit) in the same transaction."""
    _locked_feature(uow, feature_key)
    version = repository.add(feature_key=feature_key, document=document, created_by=created_by)
    if make_current:
        uow.repository(FeatureRepository).set_current(feature_key, kind=kind, version=version)
    if on_added is not None:
        on_added(uow, version)
    return version


def provider_health(*, database: Transactions, guards: ProviderGuards) -> list[ProviderHealthRead]:
    """Every provider's health over the last window, with its breaker and slots now."""
    items = []
    for provider in list_providers(database=database):
        health = guards.health(provider.key)
        ended = health.succeeded + health.failed
        items.append(
            ProviderHealthRead(
                key=provider.key,
                kind=provider.kind,
                enabled=provider.enabled,
                window_s=HEALTH_WINDOW_S,
                succeeded=health.succeeded,
                failed=health.failed,
                success_rate=round(health.succeeded / ended, 4) if ended else None,
                latency_p50_ms=health.latency_p50_ms,
                latency_p95_ms=health.latency_p95_ms,
                breaker="open" if health.breaker_open else "closed",
                recent_failures=health.recent_failures,
                slots_in_use=health.slots_in_use,
                concurrency_limit=provider.concurrency_limit,
            )
        )
    return items


def save_provider(
    *, database: Transactions, provider: ProviderWrite, language: str = "en"
) -> ProviderWrite:
    """Insert or update a provider config holding only a credential reference."""
    check_provider(provider, language=language)
    with database.unit_of_work() as uow:
        uow.repository(ProviderConfigRepository).upsert(provider)
        uow.commit()
    return provider


def versions_of(uow: Transaction, kind: VersionKind) -> FormRepository | PipelineRepository:
    """The repository of the feature's `kind` versions."""
    if kind == "form":
        return uow.repository(FormRepository)
    return uow.repository(PipelineRepository)


def _stored_steps(steps: list[PipelineStep]) -> list[dict[str, Any]]:
    return [step.model_dump(exclude_none=True) for step in steps]


def _locked_feature(uow: Transaction, key: str) -> FeatureRead:
    # Locking the feature row serialises writers of its versions: no two pick one number.
    feature = uow.repository(FeatureRepository).get(key, for_update=True)
    if feature is None:
        raise FeatureNotFound(key=key)
    return feature


def load_catalog(*, database: Transactions, seed: CatalogSeed) -> int:
    """Load the seed config in one transaction; return how many features it holds.

    Idempotent: providers and feature fields are upserted; a form or pipeline becomes a new
    version (and the current one) only when no stored version equals it, so loading twice
    changes nothing and an operator's later switch to another version survives a reload.
    Everything is validated as an operator's write would be; one bad entry stores nothing.
    """
    for provider in seed.providers:
        check_provider(provider)
    provider_keys = {provider.key for provider in seed.providers}
    checked = [
        (
            feature,
            check_form_schema(feature.form),
            _stored_steps(check_pipeline(feature.pipeline, providers=provider_keys)),
        )
        for feature in seed.features
    ]
    with database.unit_of_work() as uow:
        for provider in seed.providers:
            uow.repository(ProviderConfigRepository).upsert(provider)
        features = uow.repository(FeatureRepository)
        for feature, form, steps in checked:
            features.upsert(feature)
            _seed_version(uow, feature.key, "form", form)
            _seed_version(uow, feature.key, "pipeline", steps)
        uow.commit()
    return len(seed.features)


def _seed_version(uow: Transaction, key: str, kind: VersionKind, document: Any) -> None:
    """Store `document` as the feature's new current version unless a version equals it."""
    repository = versions_of(uow, kind)
    if any(stored == document for _, stored in repository.versions(key)):
        return
    version = repository.add(feature_key=key, document=document, created_by=None)
    uow.repository(FeatureRepository).set_current(key, kind=kind, version=version)
