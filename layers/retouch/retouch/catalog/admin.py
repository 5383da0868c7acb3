"""Operators' config use cases: read everything, add versions, switch, roll back, enable.

Every write records an audit row (actor, action, target, before/after, request id) in the
transaction of the write, and retires the `catalog` cache namespace once it has committed,
so the next `GET /v1/features` anywhere reads the change (other warm instances within the
in-process TTL).
"""

from __future__ import annotations

from typing import Any, cast

from retouch.audit.repository import AuditRepository
from retouch.audit.schemas import AuditEntry
from retouch.cache import get_cache
from retouch.catalog import service
from retouch.catalog.admin_schemas import (
    FeaturePatch,
    FormCreate,
    FormVersionRead,
    PipelineCreate,
    PipelineVersionRead,
    ProviderPut,
)
from retouch.catalog.errors import FeatureNotFound, NoPreviousVersion, VersionNotFound
from retouch.catalog.public import CACHE_NAMESPACE
from retouch.catalog.repository import (
    FeatureRepository,
    FormRepository,
    PipelineRepository,
    ProviderConfigRepository,
    VersionKind,
)
from retouch.catalog.schemas import FeatureRead, ProviderRead, ProviderWrite
from retouch.catalog.validation import check_provider
from retouch.core.identity import Principal
from retouch.core.units import Transaction, Transactions

Kind = VersionKind


def list_forms(*, database: Transactions, feature_key: str) -> list[FormVersionRead]:
    """Every version of the feature's form, oldest first."""
    with database.read_only() as uow:
        _feature(uow, feature_key)
        forms = uow.repository(FormRepository)
        found = [forms.get(feature_key, version) for version, _ in forms.versions(feature_key)]
    return [FormVersionRead.of(form) for form in found if form is not None]


def list_pipelines(*, database: Transactions, feature_key: str) -> list[PipelineVersionRead]:
    """Every version of the feature's pipeline, oldest first."""
    with database.read_only() as uow:
        _feature(uow, feature_key)
        pipelines = uow.repository(PipelineRepository)
        found = [pipelines.get(feature_key, v) for v, _ in pipelines.versions(feature_key)]
    return [PipelineVersionRead.of(pipeline) for pipeline in found if pipeline is not None]


def add_form(
    *,
    database: Transactions,
    actor: Principal,
    feature_key: str,
    form: FormCreate,
    request_id: str | None,
    language: str,
) -> FormVersionRead:
    """Validate and store the feature's next form version (422 and nothing stored if it
    breaks the rules); optionally make it current."""

    def audit(uow: Transaction, version: int) -> None:
        after = {"version": version, "made_current": form.make_current}
        _audit(uow, actor, "form.add", feature_key, request_id, before=None, after=after)

    stored = service.add_form_version(
        database=database,
        feature_key=feature_key,
        json_schema=form.json_schema,
        created_by=actor.user.id,
        make_current=form.make_current,
        language=language,
        on_added=audit,
    )
    _invalidate()
    return FormVersionRead.of(stored)


def add_pipeline(
    *,
    database: Transactions,
    actor: Principal,
    feature_key: str,
    pipeline: PipelineCreate,
    request_id: str | None,
    language: str,
) -> PipelineVersionRead:
    """Validate (known steps, existing providers) and store the feature's next pipeline
    version; optionally make it current."""

    def audit(uow: Transaction, version: int) -> None:
        after = {"version": version, "made_current": pipeline.make_current}
        _audit(uow, actor, "pipeline.add", feature_key, request_id, before=None, after=after)

    stored = service.add_pipeline_version(
        database=database,
        feature_key=feature_key,
        steps=pipeline.steps,
        created_by=actor.user.id,
        make_current=pipeline.make_current,
        language=language,
        on_added=audit,
    )
    _invalidate()
    return PipelineVersionRead.of(stored)


def update_feature(
    *,
    database: Transactions,
    actor: Principal,
    feature_key: str,
    patch: FeaturePatch,
    request_id: str | None,
) -> FeatureRead:
    """Change the cost, enabled, or the current form/pipeline version (any stored one)."""
    with database.unit_of_work() as uow:
        before = _feature(uow, feature_key, for_update=True)
        if patch.form_version is not None:
            _switch(uow, before, "form", patch.form_version)
        if patch.pipeline_version is not None:
            _switch(uow, before, "pipeline", patch.pipeline_version)
        cost = before.cost if patch.cost is None else patch.cost
        enabled = before.enabled if patch.enabled is None else patch.enabled
        uow.repository(FeatureRepository).set_terms(feature_key, cost=cost, enabled=enabled)
        after = _feature(uow, feature_key)
        _audit_change(uow, actor, "feature.update", before, after, request_id)
        uow.commit()
    _invalidate()
    return after


def roll_back(
    *,
    database: Transactions,
    actor: Principal,
    feature_key: str,
    kind: Kind,
    request_id: str | None,
) -> FeatureRead:
    """Make the stored version just before the current form (or pipeline) current again."""
    with database.unit_of_work() as uow:
        before = _feature(uow, feature_key, for_update=True)
        current = before.form_version if kind == "form" else before.pipeline_version
        repository = service.versions_of(uow, kind)
        older = [v for v, _ in repository.versions(feature_key) if current and v < current]
        if not older:
            raise NoPreviousVersion(key=feature_key, kind=kind)
        uow.repository(FeatureRepository).set_current(feature_key, kind=kind, version=max(older))
        after = _feature(uow, feature_key)
        _audit_change(uow, actor, "feature.rollback", before, after, request_id)
        uow.commit()
    _invalidate()
    return after


def save_provider(
    *,
    database: Transactions,
    actor: Principal,
    provider_key: str,
    settings: ProviderPut,
    request_id: str | None,
    language: str,
) -> ProviderRead:
    """Create or replace a provider's settings (enable/disable included); a raw secret in
    place of a credential reference is refused (422) and nothing is stored."""
    provider = ProviderWrite(key=provider_key, **settings.model_dump())
    check_provider(provider, language=language)
    with database.unit_of_work() as uow:
        providers = uow.repository(ProviderConfigRepository)
        before = providers.get(provider_key, for_update=True)
        providers.upsert(provider)
        after = cast(ProviderRead, providers.get(provider_key))  # written just above
        _audit(
            uow,
            actor,
            "provider.save",
            provider_key,
            request_id,
            before=None if before is None else _provider_state(before),
            after=_provider_state(after),
            target_type="provider",
        )
        uow.commit()
    _invalidate()
    return after


def _feature(uow: Transaction, key: str, *, for_update: bool = False) -> FeatureRead:
    feature = uow.repository(FeatureRepository).get(key, for_update=for_update)
    if feature is None:
        raise FeatureNotFound(key=key)
    return feature


def _switch(uow: Transaction, feature: FeatureRead, kind: Kind, version: int) -> None:
    repository = service.versions_of(uow, kind)
    if repository.get(feature.key, version) is None:
        raise VersionNotFound(key=feature.key, kind=kind, version=version)
    uow.repository(FeatureRepository).set_current(feature.key, kind=kind, version=version)


def _feature_state(feature: FeatureRead) -> dict[str, Any]:
    return feature.model_dump(
        mode="json", include={"cost", "enabled", "form_version", "pipeline_version"}
    )


def _provider_state(provider: ProviderRead) -> dict[str, Any]:
    return provider.model_dump(mode="json", exclude={"updated_at"})


def _audit_change(
    uow: Transaction,
    actor: Principal,
    action: str,
    before: FeatureRead,
    after: FeatureRead,
    request_id: str | None,
) -> None:
    _audit(
        uow,
        actor,
        action,
        before.key,
        request_id,
        before=_feature_state(before),
        after=_feature_state(after),
    )


def _audit(
    uow: Transaction,
    actor: Principal,
    action: str,
    target_id: str,
    request_id: str | None,
    *,
    before: dict[str, Any] | None,
    after: dict[str, Any],
    target_type: str = "feature",
) -> None:
    uow.repository(AuditRepository).add(
        AuditEntry(
            actor_user_id=actor.user.id,
            action=action,
            target_type=target_type,
            target_id=target_id,
            request_id=request_id,
            before=before,
            after=after,
        )
    )


def _invalidate() -> None:
    # After the commit: invalidating first would let a reader cache the old row again.
    get_cache().invalidate(CACHE_NAMESPACE)
