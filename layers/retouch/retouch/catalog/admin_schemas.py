"""DTOs of the admin config API (`/v1/admin/features`, `/v1/admin/providers`).

Version reads leave out `created_by` (an internal user id, which never leaves the server).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from retouch.catalog.schemas import (
    FeatureRead,
    FormSchema,
    PipelineSchema,
    PipelineStep,
    ProviderKind,
    ProviderRead,
)
from retouch.core.schemas import RequestSchema


class FeaturePatch(RequestSchema):
    """Any of: the cost, enabled, the current form or pipeline version (switch or roll
    forward/back to any stored version)."""

    cost: int | None = Field(default=None, ge=0, le=1_000_000)
    enabled: bool | None = None
    form_version: int | None = Field(default=None, ge=1)
    pipeline_version: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _not_empty(self) -> FeaturePatch:
        if not self.model_fields_set:
            raise ValueError("name at least one of cost, enabled, form_version, pipeline_version")
        return self


class Rollback(RequestSchema):
    """Make the version before the current one current again."""

    kind: Literal["form", "pipeline"]


class FormCreate(RequestSchema):
    # Any: the catalog's own rules check it and name each problem (`schema.properties...`).
    json_schema: Any
    make_current: bool = False


class PipelineCreate(RequestSchema):
    steps: Any  # checked by the catalog's rules (`steps[1].providers[0]`)
    make_current: bool = False


class ProviderPut(RequestSchema):
    """A provider's settings (the key is in the path); a credential reference only."""

    kind: ProviderKind
    endpoint: str | None = Field(default=None, max_length=512)
    credential_ref: str | None = Field(default=None, max_length=256)
    options: dict[str, Any] = Field(default_factory=dict)
    weight: int = Field(default=100, ge=0, le=10_000)
    concurrency_limit: int = Field(ge=1, le=100_000)
    enabled: bool = True


class FormVersionRead(RequestSchema):
    feature_key: str
    version: int
    json_schema: dict[str, Any]
    created_at: datetime

    @classmethod
    def of(cls, form: FormSchema) -> FormVersionRead:
        return cls.model_validate(form.model_dump(exclude={"created_by"}))


class PipelineVersionRead(RequestSchema):
    feature_key: str
    version: int
    steps: list[PipelineStep]
    created_at: datetime

    @classmethod
    def of(cls, pipeline: PipelineSchema) -> PipelineVersionRead:
        return cls.model_validate(pipeline.model_dump(exclude={"created_by"}))


class FeatureAdminList(RequestSchema):
    items: list[FeatureRead]


class FormVersionList(RequestSchema):
    items: list[FormVersionRead]


class PipelineVersionList(RequestSchema):
    items: list[PipelineVersionRead]


class ProviderList(RequestSchema):
    items: list[ProviderRead]


class ProviderHealthRead(RequestSchema):
    """How a provider has done over the last `window_s` seconds, and its guards now."""

    key: str
    kind: ProviderKind
    enabled: bool
    window_s: int
    succeeded: int = Field(description="jobs that delivered a result in the window")
    failed: int = Field(description="jobs and calls that failed in the window (not bad input)")
    success_rate: float | None = Field(description="succeeded / (succeeded + failed); null: none")
    latency_p50_ms: float | None = Field(description="submit to result, median")
    latency_p95_ms: float | None = Field(description="submit to result, 95th percentile")
    breaker: Literal["open", "closed"] = Field(description="open: the chain skips it for now")
    recent_failures: int = Field(description="failures counted toward opening the breaker")
    slots_in_use: int
    concurrency_limit: int


class ProviderHealthList(RequestSchema):
    items: list[ProviderHealthRead]
