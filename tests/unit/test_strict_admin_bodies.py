"""Admin bodies are strict: a value of another JSON type is a 422, never coerced (a credit
grant of `true`, `"5"` or `1e6` once became 1, 5 or 1,000,000 credits)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from retouch.quota.schemas import PlanWrite
from retouch.users.schemas import CreditGrant, UserPatch

PLAN = {"code": "pro", "name": "Pro", "monthly_credits": 100, "features": ["enhance"]}


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (CreditGrant, b'{"amount": true, "reason": "x"}'),
        (CreditGrant, b'{"amount": "5", "reason": "x"}'),
        (CreditGrant, b'{"amount": 1e6, "reason": "x"}'),
        (CreditGrant, b'{"amount": 5.0, "reason": "x"}'),
        (CreditGrant, b'{"amount": 5, "reason": 7}'),
        (UserPatch, b'{"role": "admin", "status": 1}'),
        (PlanWrite, b'{"code": "pro", "name": "Pro", "monthly_credits": "100", "features": []}'),
        (
            PlanWrite,
            b'{"code": "pro", "name": "Pro", "monthly_credits": 1, "features": [], '
            b'"priority": true}',
        ),
    ],
)
def test_a_value_of_another_type_is_refused(model: type[BaseModel], body: bytes) -> None:
    # The JSON FastAPI parsed, as it hands it to the model, and the raw document.
    with pytest.raises(ValidationError):
        model.model_validate(json.loads(body))
    with pytest.raises(ValidationError):
        model.model_validate_json(body)


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (CreditGrant, {"amount": 5, "reason": "support ticket 42"}),
        (UserPatch, {"role": "operator"}),
        (UserPatch, {"status": "disabled"}),
        (PlanWrite, PLAN),
    ],
)
def test_values_of_the_declared_type_are_accepted(
    model: type[BaseModel], body: dict[str, Any]
) -> None:
    assert model.model_validate(body).model_dump(exclude_unset=True) == body
