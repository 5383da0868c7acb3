"""Issue 18 items 1–3: the OpenAPI contract is generated from the routes, declares one Problem
schema on every error an operation can return, names operations and is committed as is."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from fastapi import Depends, Header
from pydantic import BaseModel

from retouch.caller.dependencies import current_user, require_role
from retouch.core.errors import REGISTRY, raises
from retouch.core.identity import Principal
from retouch.http import api_router, create_app
from retouch.quota.errors import QuotaExceeded
from retouch.tasks.errors import TaskNotCancelable
from scripts.openapi import DOCUMENT, document, render

PROBLEM_REF = "#/components/schemas/Problem"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return document()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
    ]


def error_codes(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, set[str]]:
    """Status → the codes its response component lists (from the component's name)."""
    found = {}
    for status, response in operation["responses"].items():
        if int(status) >= 400:
            name = response["$ref"].rsplit("/", 1)[1]
            found[status] = {code for code in REGISTRY if code.title().replace("_", "") in name}
    return found


def test_the_committed_document_is_what_the_code_generates(spec: dict[str, Any]) -> None:
    # WHEN the document is generated from the code
    # THEN it is the committed docs/openapi.json, byte for byte (else: run scripts/openapi)
    assert DOCUMENT.read_text(encoding="utf-8") == render(spec), "run scripts/openapi"


def test_every_error_response_is_problem_json_and_fastapis_422_schema_is_gone(
    spec: dict[str, Any],
) -> None:
    components = spec["components"]
    assert "HTTPValidationError" not in components["schemas"]
    assert "ValidationError" not in components["schemas"]
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            if int(status) < 400:
                continue
            declared = components["responses"][response["$ref"].rsplit("/", 1)[1]]
            assert set(declared["content"]) == {"application/problem+json"}, (method, path)
            assert declared["content"]["application/problem+json"]["schema"]["$ref"] == PROBLEM_REF
            assert "X-Request-ID" in declared["headers"]


def test_the_global_errors_are_declared_where_they_can_happen(spec: dict[str, Any]) -> None:
    for method, path, operation in operations(spec):
        statuses = set(operation["responses"])
        # every route is limited per IP and can fail: 429 (with Retry-After), 500, 503
        assert {"429", "500", "503"} <= statuses, (method, path)
        if method in ("POST", "PUT", "PATCH"):
            assert {"413", "415"} <= statuses, (method, path)
        if "{" in path:
            assert "404" in statuses, (method, path)
        if operation.get("security") != []:  # login and refresh answer 401 too, though public
            assert "401" in statuses, (method, path)
    limited = spec["components"]["responses"]["RateLimited"]
    assert {"Retry-After", "RateLimit-Reset"} <= set(limited["headers"])


def test_route_errors_come_from_dependencies_and_marks(spec: dict[str, Any]) -> None:
    ops = {(method, path): operation for method, path, operation in operations(spec)}
    create = error_codes(spec, ops[("POST", "/v1/tasks")])
    assert create["402"] == {"QUOTA_EXCEEDED"}
    assert create["409"] == {"FEATURE_UNAVAILABLE", "IDEMPOTENCY_KEY_IN_USE", "PLAN_LIMIT_REACHED"}
    assert create["422"] == {"VALIDATION_FAILED", "IDEMPOTENCY_KEY_REUSED"}
    # the role dependency of every admin route brings 403; no other route has it but the
    # payment notification, whose forged or replayed signature is 403 SIGNATURE_INVALID, and
    # the account's deletion, whose wrong password is 403 PASSWORD_NOT_CONFIRMED, and task
    # creation, refused to an unverified address with 403 EMAIL_NOT_VERIFIED, and the routes
    # a CAPTCHA can guard, whose refused token is 403 CAPTCHA_FAILED
    notify = ("POST", "/v1/payments/notify/{provider}")
    delete_me = ("DELETE", "/v1/me")
    assert error_codes(spec, ops[notify])["403"] == {"SIGNATURE_INVALID"}
    assert error_codes(spec, ops[delete_me])["403"] == {"PASSWORD_NOT_CONFIRMED"}
    assert create["403"] == {"EMAIL_NOT_VERIFIED"}
    captcha_guarded = tuple(
        ("POST", f"/v1/auth/{route}") for route in ("register", "password/forgot", "verify/resend")
    )
    for route in captcha_guarded:
        assert error_codes(spec, ops[route])["403"] == {"CAPTCHA_FAILED"}
        assert error_codes(spec, ops[route])["503"] >= {"CAPTCHA_UNAVAILABLE"}
    guarded = (notify, delete_me, ("POST", "/v1/tasks"), *captcha_guarded)
    for (method, path), operation in ops.items():
        expected = path.startswith("/v1/admin") or (method, path) in guarded
        assert ("403" in operation["responses"]) == expected, (method, path)
    # /v1/me/quota needs a token: 401; register is public: no 401, `security: []`
    assert "401" in ops[("GET", "/v1/me/quota")]["responses"]
    register = ops[("POST", "/v1/auth/register")]
    assert register["security"] == [] and "401" not in register["responses"]
    # register answers 202 for a new and a taken address alike: no 201, no 409 to tell them
    assert "202" in register["responses"]
    assert not {"201", "409"} & set(register["responses"])
    assert (
        "VERIFICATION_TOKEN_INVALID" in error_codes(spec, ops[("POST", "/v1/auth/verify")])["400"]
    )
    # the two task-list operations do not claim "no such task"
    assert "404" not in ops[("GET", "/v1/tasks")]["responses"]
    assert "404" not in ops[("POST", "/v1/tasks")]["responses"]


def test_operation_ids_are_short_and_unique(spec: dict[str, Any]) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(spec)]
    assert len(ids) == len(set(ids))
    assert {"tasks_create", "tasks_list", "tasks_get", "tasks_cancel", "auth_login"} <= set(ids)
    assert all(len(name) <= 40 and "_v1_" not in name for name in ids)


def test_the_document_says_what_a_client_needs(spec: dict[str, Any]) -> None:
    assert spec["info"]["title"] == "Retouch API"
    assert "Idempotency-Key" in spec["info"]["description"]
    assert spec["servers"]
    assert all(tag.get("description") for tag in spec["tags"])
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    assert problem["properties"]["code"] == {"$ref": "#/components/schemas/ErrorCode"}
    assert set(spec["components"]["schemas"]["ErrorCode"]["enum"]) == set(REGISTRY)
    assert {"needed", "balance", "errors", "request_id"} <= set(problem["properties"])
    assert problem["additionalProperties"] is True
    # response headers: the entity tag of a task read, the request id everywhere
    read = spec["paths"]["/v1/tasks/{task_id}"]["get"]["responses"]
    assert {"ETag", "Cache-Control", "X-Request-ID"} <= set(read["200"]["headers"])
    assert "ETag" in read["304"]["headers"]
    # every request body has an example; TaskCreate is one shape per seed feature
    schemas = spec["components"]["schemas"]
    for _, _, operation in operations(spec):
        if "requestBody" in operation:
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            named = schemas[body["$ref"].rsplit("/", 1)[1]]
            shapes = [schemas[ref["$ref"].rsplit("/", 1)[1]] for ref in named.get("oneOf", [])]
            assert all(shape.get("examples") for shape in shapes or [named]), operation[
                "operationId"
            ]
    # links: a created task's id feeds its read, cancel, delete and events
    links = spec["paths"]["/v1/tasks"]["post"]["responses"]["202"]["links"]
    assert {link["operationId"] for link in links.values()} == {
        "tasks_get",
        "tasks_cancel",
        "tasks_delete",
        "tasks_events",
    }
    mapping = schemas["TaskCreate"]["discriminator"]["mapping"]
    assert set(mapping) == {"cutout", "eraser", "outfit", "faceswap", "outpaint"}


class _Body(BaseModel):
    n: int


Admin = Annotated[Principal, Depends(require_role("admin"))]


def test_a_new_route_gets_its_declarations_from_what_it_is_made_of() -> None:
    # GIVEN a router with a marked endpoint behind the role dependency, and a public one
    router = api_router(prefix="/v1/things", tags=["things"])

    @router.post("/{thing_id}/spend")
    @raises(QuotaExceeded, TaskNotCancelable)
    def spend_thing(thing_id: str, body: _Body, _caller: Admin) -> dict[str, str]:
        return {}

    @router.get("")
    def list_things(x_flag: Annotated[str | None, Header()] = None) -> list[str]:
        return []

    # WHEN an app serves it
    spec = create_app([router]).openapi()

    # THEN the declarations follow from the path parameter, body, token, role and mark
    spend = spec["paths"]["/v1/things/{thing_id}/spend"]["post"]
    assert spend["operationId"] == "things_spend"
    assert set(spend["responses"]) == {
        "200",
        "400",
        "401",
        "402",
        "403",
        "404",
        "409",
        "413",
        "415",
        "422",
        "429",
        "500",
        "503",
    }
    listing = spec["paths"]["/v1/things"]["get"]
    assert listing["operationId"] == "things_list"
    assert listing["security"] == []
    assert set(listing["responses"]) == {"200", "422", "429", "500", "503"}


def test_two_operations_with_one_id_are_refused() -> None:
    router = api_router(tags=["things"])

    @router.get("/a")
    def get_thing() -> None: ...

    @router.get("/b", name="get_thing")
    def other() -> None: ...

    with pytest.raises(ValueError, match="things_get"):
        create_app([router])


def test_the_caller_dependency_is_what_brings_401() -> None:
    router = api_router(tags=["things"])

    @router.get("/mine")
    def mine(_caller: Annotated[Principal, Depends(current_user)]) -> None: ...

    operation = create_app([router]).openapi()["paths"]["/mine"]["get"]
    assert "401" in operation["responses"] and "403" not in operation["responses"]
    assert operation["responses"]["401"] == {
        "$ref": "#/components/responses/UnauthenticatedOrTokenExpired"
    }


def inline_enums(node: Any) -> list[list[Any]]:
    if isinstance(node, list):
        return [found for item in node for found in inline_enums(item)]
    if not isinstance(node, dict):
        return []
    own = [node["enum"]] if "enum" in node else []
    return own + [found for value in node.values() for found in inline_enums(value)]


def test_shared_enums_are_named_components_used_everywhere(spec: dict[str, Any]) -> None:
    schemas = spec["components"]["schemas"]
    named = {"Role", "UserStatus", "TaskStatus", "UploadStatus", "ContentType", "RejectReason"}
    assert named <= set(schemas)
    # no operation or other schema repeats their values inline
    elsewhere = {k: v for k, v in schemas.items() if k not in named | {"ErrorCode"}}
    repeated = inline_enums([spec["paths"], elsewhere])
    for name in named:
        assert schemas[name]["enum"] not in repeated, name
    # the list filter and the task use one status; a task's error code is an ErrorCode
    status = [
        p for p in spec["paths"]["/v1/tasks"]["get"]["parameters"] if p.get("name") == "status"
    ]
    assert {"$ref": "#/components/schemas/TaskStatus"} in status[0]["schema"]["anyOf"]
    assert schemas["TaskRead"]["properties"]["status"]["$ref"] == "#/components/schemas/TaskStatus"
    assert schemas["TaskError"]["properties"]["code"] == {"$ref": "#/components/schemas/ErrorCode"}
