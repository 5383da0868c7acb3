"""Plan DTOs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

FeatureKey = str


class PlanWrite(BaseModel):
    """A plan as the seed config and operators define it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name: str = Field(min_length=1, max_length=64)
    monthly_credits: int = Field(ge=0)
    features: list[FeatureKey]
    priority: int = 0


class PlanRead(PlanWrite):
    pass
