"""`/v1/admin/features` and `/v1/admin/providers`: the config API of operators and admins
(CONFIG_READ for reads, CONFIG_WRITE for writes, PROVIDERS_WRITE — admins only — for
provider configs; ordinary users get 403)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path

from retouch.caller.dependencies import require_permission
from retouch.catalog import admin, service
from retouch.catalog.admin_schemas import (
    FeatureAdminList,
    FeaturePatch,
    FormCreate,
    FormVersionList,
    FormVersionRead,
    PipelineCreate,
    PipelineVersionList,
    PipelineVersionRead,
    ProviderHealthList,
    ProviderList,
    ProviderPut,
    Rollback,
)
from retouch.catalog.schemas import KEY_PATTERN, FeatureRead, ProviderRead
from retouch.core.db import get_database
from retouch.core.identity import Principal
from retouch.core.permissions import Permission
from retouch.core.redis import get_redis
from retouch.http.dependencies import RequestId
from retouch.http.problems import negotiate_language
from retouch.http.routing import api_router
from retouch.providers.guards import ProviderGuards

admin_router = api_router(prefix="/v1/admin", tags=["admin"])

Reader = Annotated[Principal, Depends(require_permission(Permission.CONFIG_READ))]
Writer = Annotated[Principal, Depends(require_permission(Permission.CONFIG_WRITE))]
ProviderWriter = Annotated[Principal, Depends(require_permission(Permission.PROVIDERS_WRITE))]
FeatureKey = Annotated[str, Path(pattern=KEY_PATTERN, description="the feature's key")]
ProviderKey = Annotated[str, Path(pattern=KEY_PATTERN, description="the provider's key")]
Version = Annotated[int, Path(ge=1)]
AcceptLanguage = Annotated[str | None, Header()]


@admin_router.get("/features", response_model=FeatureAdminList)
def list_features(_caller: Reader) -> FeatureAdminList:
    """Every feature, enabled or not, with its current form and pipeline versions."""
    items = service.list_features(database=get_database(), enabled_only=False)
    return FeatureAdminList(items=items)


@admin_router.get("/features/{key}", response_model=FeatureRead)
def get_feature(key: FeatureKey, _caller: Reader) -> FeatureRead:
    """One feature, enabled or not."""
    return service.get_feature(database=get_database(), key=key)


@admin_router.patch("/features/{key}", response_model=FeatureRead)
def update_feature(
    key: FeatureKey, patch: FeaturePatch, caller: Writer, request: RequestId
) -> FeatureRead:
    """Change the cost, enable or disable, or switch to any stored form/pipeline version."""
    return admin.update_feature(
        database=get_database(), actor=caller, feature_key=key, patch=patch, request_id=request
    )


@admin_router.post("/features/{key}/rollback", response_model=FeatureRead)
def roll_back(
    key: FeatureKey, rollback: Rollback, caller: Writer, request: RequestId
) -> FeatureRead:
    """Make the version before the current form (or pipeline) current again."""
    return admin.roll_back(
        database=get_database(),
        actor=caller,
        feature_key=key,
        kind=rollback.kind,
        request_id=request,
    )


@admin_router.get("/features/{key}/forms", response_model=FormVersionList)
def list_forms(key: FeatureKey, _caller: Reader) -> FormVersionList:
    """Every version of the feature's form, oldest first."""
    return FormVersionList(items=admin.list_forms(database=get_database(), feature_key=key))


@admin_router.get("/features/{key}/forms/{version}", response_model=FormVersionRead)
def get_form(key: FeatureKey, version: Version, _caller: Reader) -> FormVersionRead:
    """One version of the feature's form, current or old."""
    form = service.get_form(database=get_database(), feature_key=key, version=version)
    return FormVersionRead.of(form)


@admin_router.post("/features/{key}/forms", status_code=201, response_model=FormVersionRead)
def add_form(
    key: FeatureKey,
    form: FormCreate,
    caller: Writer,
    request: RequestId,
    accept_language: AcceptLanguage = None,
) -> FormVersionRead:
    """Store the next version of the feature's form (validated); `make_current` to switch."""
    return admin.add_form(
        database=get_database(),
        actor=caller,
        feature_key=key,
        form=form,
        request_id=request,
        language=negotiate_language(accept_language),
    )


@admin_router.get("/features/{key}/pipelines", response_model=PipelineVersionList)
def list_pipelines(key: FeatureKey, _caller: Reader) -> PipelineVersionList:
    """Every version of the feature's pipeline, oldest first."""
    items = admin.list_pipelines(database=get_database(), feature_key=key)
    return PipelineVersionList(items=items)


@admin_router.get("/features/{key}/pipelines/{version}", response_model=PipelineVersionRead)
def get_pipeline(key: FeatureKey, version: Version, _caller: Reader) -> PipelineVersionRead:
    """One version of the feature's pipeline, current or old."""
    pipeline = service.get_pipeline(database=get_database(), feature_key=key, version=version)
    return PipelineVersionRead.of(pipeline)


@admin_router.post("/features/{key}/pipelines", status_code=201, response_model=PipelineVersionRead)
def add_pipeline(
    key: FeatureKey,
    pipeline: PipelineCreate,
    caller: Writer,
    request: RequestId,
    accept_language: AcceptLanguage = None,
) -> PipelineVersionRead:
    """Store the next version of the feature's pipeline (known steps and providers only)."""
    return admin.add_pipeline(
        database=get_database(),
        actor=caller,
        feature_key=key,
        pipeline=pipeline,
        request_id=request,
        language=negotiate_language(accept_language),
    )


@admin_router.get("/providers", response_model=ProviderList)
def list_providers(_caller: Reader) -> ProviderList:
    """Every provider config (credential references, never secrets)."""
    return ProviderList(items=service.list_providers(database=get_database()))


@admin_router.get(
    "/providers/health",
    response_model=ProviderHealthList,
)
def provider_health(_caller: Reader) -> ProviderHealthList:
    """Per provider over the last 15 minutes: jobs succeeded and failed, success rate,
    latency (submit to result, p50/p95); and now: breaker state and slots in use."""
    guards = ProviderGuards(get_redis())
    return ProviderHealthList(items=service.provider_health(database=get_database(), guards=guards))


@admin_router.put("/providers/{key}", response_model=ProviderRead)
def save_provider(
    key: ProviderKey,
    settings: ProviderPut,
    caller: ProviderWriter,
    request: RequestId,
    accept_language: AcceptLanguage = None,
) -> ProviderRead:
    """Create or replace a provider's settings, enabled or not (admins only; audited with
    before and after)."""
    return admin.save_provider(
        database=get_database(),
        actor=caller,
        provider_key=key,
        settings=settings,
        request_id=request,
        language=negotiate_language(accept_language),
    )
