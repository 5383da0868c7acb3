"""The one base of every DTO. Answers are immutable (`Schema`); what clients send also refuses
unknown fields (`RequestSchema`): `role`, `balance` or a mistyped name is a 422, never
silently ignored or applied (mass assignment). What operators send to change accounts or
plans is also strict (`StrictRequestSchema`): no value is coerced to the declared type."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Schema(BaseModel):
    """A DTO: immutable once built.

    Its validator and serializer are built on first use (`defer_build`), not when the class is
    defined: a function imports the models of packages it serves only in part (the tasks
    function the quota's plan models, say), and builds those its routes and first response use.
    """

    model_config = ConfigDict(frozen=True, defer_build=True)


class RequestSchema(Schema):
    """A request body or options document: unknown fields are refused.

    Built with its class, not on first use: FastAPI validates a body through the model
    annotated with the parameter's name as an alias, and a deferred model, built at the first
    request, makes pydantic warn there that the alias has no effect (it has none either way)."""

    model_config = ConfigDict(extra="forbid", defer_build=False)


class StrictRequestSchema(RequestSchema):
    """An admin body: unknown fields refused and no type coercion, so `true`, `"5"` or `1e6`
    where an integer belongs is a 422 rather than a grant of 1, 5 or 1,000,000 credits."""

    model_config = ConfigDict(strict=True)
