"""Issue 18: schemathesis over the committed `docs/openapi.json` against the served stack.

Every operation gets generated requests, valid and invalid, with an admin's token (admin
routes included), and every response goes through all of schemathesis's checks: no 5xx, every
status, header and content type declared, bodies as their schema says, schema-invalid input
refused, methods the document lacks refused. A state machine then follows the document's links
(create an upload or a task, then read, cancel, follow or delete it). Two exclusions, each for
a stated reason:

- `positive_data_acceptance` (a schema-valid request must not get a 4xx other than 401, 403,
  404, 409): the server applies rules no JSON Schema states, and refuses with a declared
  `422 VALIDATION_FAILED` naming the field: sealed cursors (an HMAC over the caller; a made-up
  one never verifies), cross-field rules (a patch names at least one field; `since` before
  `until`), catalog lookups (the feature must exist), config contents (credential references,
  endpoints, pipeline steps) and strict integers in admin bodies (`418.0` is refused on
  purpose).
- `allow_header_conformance` on the two operations whose last static segment is also a value
  of a sibling's parameter (`/v1/admin/providers/health` beside `/v1/admin/providers/{key}`,
  `/v1/uploads/credentials` beside `/v1/uploads/{upload_id}`): their 405 rightly advertises
  the sibling's method, which the document lists under the templated path.

One class of failure is dropped, not a check: a "schema-violating request accepted" whose only
violations are query parameters the operation does not name (schemathesis treats the query as a
closed object) and the `Authorization` header it counts as missing because the test sends it
for every case. Read routes ignore unknown query parameters on purpose — browsers and caches add
their own (`?_=<time>`) — while the routes whose query is a strict model (the admin lists and
the audit log) refuse them with 422, and every other violation still fails the test.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CheckFunction
from schemathesis.core.failures import AcceptedNegativeData, Failure, FailureGroup
from schemathesis.specs.openapi.checks import allow_header_conformance, positive_data_acceptance

from tests.integration.contract.conftest import ContractStack

pytestmark = pytest.mark.integration

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi.json"
SHADOWED_PATHS = frozenset({"/v1/admin/providers/health", "/v1/uploads/credentials"})
schema = schemathesis.openapi.from_dict(json.loads(DOCUMENT.read_text(encoding="utf-8")))
#: The violations of an accepted request that are not ours to refuse (see the docstring).
TOLERATED = (
    "query: violates `additionalProperties`",
    "header: violates `required` (was Authorization)",
)


def _ours(failure: Failure) -> bool:
    """Whether `failure` is one the server must answer for (all but the tolerated kind)."""
    if not isinstance(failure, AcceptedNegativeData):
        return True
    violations = [
        line.strip()[2:] for line in failure.message.splitlines() if line.strip().startswith("- ")
    ]
    return not violations or any(v not in TOLERATED for v in violations)


def _validated(call: Any) -> None:
    """Run `call` (a validation), raising only the failures that are ours."""
    try:
        call()
    except FailureGroup as group:
        kept = [failure for failure in group.exceptions if _ours(failure)]
        if kept:
            raise FailureGroup(kept, str(group)) from None


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
)
def test_every_operation_answers_as_the_document_declares(
    case: schemathesis.Case[Any], contract_stack: ContractStack
) -> None:
    excluded: list[CheckFunction] = [positive_data_acceptance]
    if case.operation.path in SHADOWED_PATHS:
        excluded.append(allow_header_conformance)
    _validated(
        lambda: case.call_and_validate(
            base_url=contract_stack.url, headers=contract_stack.admin, excluded_checks=excluded
        )
    )


class _Links(schema.as_state_machine()):  # type: ignore[misc]
    """Sequences along the document's links: create an upload or a task, then read, cancel,
    follow or delete it, with the same checks and exclusions as above."""

    stack: ContractStack

    def get_call_kwargs(self, case: schemathesis.Case[Any]) -> dict[str, Any]:
        return {"base_url": self.stack.url, "headers": self.stack.admin}

    def validate_response(self, response: Any, case: schemathesis.Case[Any], **kwargs: Any) -> None:
        excluded: list[CheckFunction] = [positive_data_acceptance]
        if case.operation.path in SHADOWED_PATHS:
            excluded.append(allow_header_conformance)
        _validated(lambda: case.validate_response(response, excluded_checks=excluded))


def test_linked_operations_answer_as_declared_in_sequence(contract_stack: ContractStack) -> None:
    _Links.stack = contract_stack
    _Links.run(
        settings=settings(
            max_examples=10,
            stateful_step_count=4,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
        )
    )
