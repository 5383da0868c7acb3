"""Catalog DTOs: features, form and pipeline versions, provider configs, and the seed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import ConfigDict, Field

from retouch.core.schemas import RequestSchema

KEY_PATTERN = r"^[a-z][a-z0-9_]{1,31}$"
#: The only JSON Schema dialect a form may declare.
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
#: Task inputs name uploads by their public id (`new_public_id("upl")`), never by URL.
UPLOAD_ID_PATTERN = r"^upl_[A-Za-z0-9_-]{22}$"

StepName = Literal["prepare", "generate", "store"]
ProviderKind = Literal["runninghub", "hunyuan", "tencent", "local", "simulator"]

#: Steps a pipeline may name, in the order they run; `finalize` always runs after them.
STEP_ORDER: tuple[StepName, ...] = ("prepare", "generate", "store")
PROVIDER_KINDS: tuple[ProviderKind, ...] = (
    "runninghub",
    "hunyuan",
    "tencent",
    "local",
    "simulator",
)


# `defer_build` below: the features, the provider configs and the seed are validated by the
# API and the seed loader, never by a step function on its way to a dropped message; their
# validators are built on first use instead of at import (a step function's cold start,
# docs/performance.md). FastAPI builds those of its routes' models when the app is made.


class FeatureWrite(RequestSchema):
    """A feature as the seed and operators define it (its form and pipeline are versioned
    separately)."""

    model_config = ConfigDict(defer_build=True)

    key: str = Field(pattern=KEY_PATTERN)
    name_zh: str = Field(min_length=1, max_length=64)
    name_en: str = Field(min_length=1, max_length=64)
    description_zh: str = Field(max_length=512)
    description_en: str = Field(max_length=512)
    cost: int = Field(ge=0, description="credits per task")
    enabled: bool = True
    allowed_plans: list[str]


class FeatureRead(FeatureWrite):
    form_version: int | None
    pipeline_version: int | None
    updated_at: datetime


class FormSchema(RequestSchema):
    """One version of a feature's input form: a JSON Schema of the allowed subset."""

    feature_key: str
    version: int
    json_schema: dict[str, Any]
    created_at: datetime
    created_by: int | None = None


class PipelineStep(RequestSchema):
    step: str
    providers: list[str] | None = None
    timeout_s: int | None = None
    retries: int | None = None


class PipelineSchema(RequestSchema):
    """One version of a feature's pipeline: its ordered steps (`finalize` is implicit)."""

    feature_key: str
    version: int
    steps: list[PipelineStep]
    created_at: datetime
    created_by: int | None = None


class ProviderWrite(RequestSchema):
    """A vendor's settings. `credential_ref` names where the secret is kept, never the
    secret itself (checked by `validation.check_provider`)."""

    model_config = ConfigDict(defer_build=True)

    key: str = Field(pattern=KEY_PATTERN)
    kind: ProviderKind
    endpoint: str | None = None
    credential_ref: str | None = None
    options: dict[str, Any] = Field(
        default_factory=dict, description="the adapter's non-secret settings (its options model)"
    )
    weight: int = Field(default=100, ge=0, le=10_000)
    concurrency_limit: int = Field(ge=1, le=100_000)
    enabled: bool = True


class ProviderRead(ProviderWrite):
    updated_at: datetime


class FeatureSeed(FeatureWrite):
    """A feature of the seed file with its form (JSON Schema) and pipeline (raw steps)."""

    form: dict[str, Any]
    pipeline: list[dict[str, Any]]


class CatalogSeed(RequestSchema):
    """shared/seed/catalog.json."""

    model_config = ConfigDict(defer_build=True)

    providers: list[ProviderWrite]
    features: list[FeatureSeed]
