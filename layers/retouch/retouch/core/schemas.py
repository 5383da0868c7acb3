"""The one base of every DTO. Answers are immutable (`Schema`); what clients send also refuses
unknown fields (`RequestSchema`): `role`, `balance` or a mistyped name is a 422, never
silently ignored or applied (mass assignment)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    """A DTO: immutable once built."""

    model_config = ConfigDict(frozen=True)


class RequestSchema(Schema):
    """A request body or options document: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")
