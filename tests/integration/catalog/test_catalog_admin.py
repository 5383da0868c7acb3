"""The operators' config API through the catalog function on the real MariaDB and Redis: who
may call what, validated versioned writes that store nothing when refused, switches, rollback,
audit rows, and `GET /v1/features` showing a change at once."""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retouch.catalog.service import get_feature, list_providers
from retouch.core.db import get_database
from retouch.core.permissions import PERMISSIONS, ROLES, Permission
from retouch.core.settings import get_settings
from tests.catalog_support import seed_feature
from tests.conftest import Stack
from tests.integration.catalog_api_support import catalog_app, fresh_feature
from tests.integration.identity_support import audit_rows, new_account, new_client_ip

pytestmark = pytest.mark.integration

Route = tuple[str, str, Any, Permission]


def _routes() -> list[Route]:
    cutout = seed_feature("cutout")
    provider = {"kind": "simulator", "concurrency_limit": 2, "enabled": False}
    return [
        ("GET", "/v1/admin/features", None, Permission.CONFIG_READ),
        ("GET", "/v1/admin/features/{key}", None, Permission.CONFIG_READ),
        ("PATCH", "/v1/admin/features/{key}", {"cost": 7}, Permission.CONFIG_WRITE),
        ("POST", "/v1/admin/features/{key}/rollback", {"kind": "form"}, Permission.CONFIG_WRITE),
        ("GET", "/v1/admin/features/{key}/forms", None, Permission.CONFIG_READ),
        ("GET", "/v1/admin/features/{key}/forms/1", None, Permission.CONFIG_READ),
        (
            "POST",
            "/v1/admin/features/{key}/forms",
            {"json_schema": cutout.form},
            Permission.CONFIG_WRITE,
        ),
        ("GET", "/v1/admin/features/{key}/pipelines", None, Permission.CONFIG_READ),
        ("GET", "/v1/admin/features/{key}/pipelines/1", None, Permission.CONFIG_READ),
        (
            "POST",
            "/v1/admin/features/{key}/pipelines",
            {"steps": cutout.pipeline},
            Permission.CONFIG_WRITE,
        ),
        ("GET", "/v1/admin/providers", None, Permission.CONFIG_READ),
        ("GET", "/v1/admin/providers/health", None, Permission.CONFIG_READ),
        ("PUT", "/v1/admin/providers/{provider}", provider, Permission.PROVIDERS_WRITE),
    ]


ROUTES = _routes()


def _route_id(route: Route) -> str:
    return f"{route[0]} {route[1]}"


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    app = catalog_app()
    with TestClient(app, client=(new_client_ip(), 50000), raise_server_exceptions=False) as c:
        yield c


def call(client: TestClient, route: Route, headers: dict[str, str], key: str) -> Any:
    method, path, body, _ = route
    provider = f"p_{secrets.token_hex(4)}"
    return client.request(
        method, path.format(key=key, provider=provider), json=body, headers=headers
    )


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_a_user_gets_403_on_every_config_route(client: TestClient, route: Route) -> None:
    key = fresh_feature()
    _, headers = new_account("user")

    response = call(client, route, headers, key)

    assert response.status_code == 403
    assert response.json()["code"] == "FORBIDDEN"
    assert audit_rows(key) == []


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_config_routes_need_a_token(client: TestClient, route: Route) -> None:
    assert call(client, route, {}, fresh_feature()).status_code == 401


@pytest.mark.parametrize("role", [role for role in ROLES if role != "user"])
@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_roles_reach_config_routes_as_the_permission_table_says(
    client: TestClient, route: Route, role: str
) -> None:
    # GIVEN a feature with a second form version, so a rollback has somewhere to go
    key = fresh_feature()
    _, admin = new_account("admin")
    form = {"json_schema": seed_feature("cutout").form, "make_current": True}
    assert (
        client.post(f"/v1/admin/features/{key}/forms", json=form, headers=admin).status_code == 201
    )
    _, headers = new_account(role)

    response = call(client, route, headers, key)

    allowed = route[3] in PERMISSIONS[role]  # type: ignore[index]
    assert (response.status_code < 300) is allowed, response.text
    assert (response.status_code == 403) is not allowed


def test_an_operators_cost_and_form_change_shows_in_the_public_list_at_once(
    client: TestClient,
) -> None:
    # GIVEN a feature the public list already serves from a warm cache
    key = fresh_feature(cost=3)
    _, operator = new_account("operator")

    def listed() -> dict[str, Any]:
        items = client.get("/v1/features", headers={"Accept-Language": "en"}).json()["items"]
        return next(item for item in items if item["key"] == key)

    assert listed()["cost"] == 3
    assert listed()["cost"] == 3  # now from the in-process level

    # WHEN an operator changes its cost, and adds a form with one more field as current
    form = copy.deepcopy(seed_feature("cutout").form)
    form["properties"]["strength"] = {"type": "integer", "minimum": 1, "maximum": 5}
    cost = client.patch(f"/v1/admin/features/{key}", json={"cost": 9}, headers=operator)
    added = client.post(
        f"/v1/admin/features/{key}/forms",
        json={"json_schema": form, "make_current": True},
        headers=operator,
    )

    # THEN the very next public read shows both
    assert cost.status_code == 200 and cost.json()["cost"] == 9
    assert added.status_code == 201 and added.json()["version"] == 2
    item = listed()
    assert item["cost"] == 9
    assert "strength" in item["form_schema"]["properties"]
    one = client.get(f"/v1/features/{key}").json()
    assert one["cost"] == 9 and "strength" in one["form_schema"]["properties"]


def test_disabling_a_feature_hides_it_and_enabling_shows_it_again(client: TestClient) -> None:
    key = fresh_feature()
    _, operator = new_account("operator")
    assert client.get(f"/v1/features/{key}").status_code == 200

    off = client.patch(f"/v1/admin/features/{key}", json={"enabled": False}, headers=operator)
    hidden = client.get(f"/v1/features/{key}")
    on = client.patch(f"/v1/admin/features/{key}", json={"enabled": True}, headers=operator)
    shown = client.get(f"/v1/features/{key}")

    assert off.status_code == 200 and hidden.status_code == 404
    assert on.status_code == 200 and shown.status_code == 200


def _versions(client: TestClient, key: str, headers: dict[str, str]) -> tuple[int, int]:
    forms = client.get(f"/v1/admin/features/{key}/forms", headers=headers).json()["items"]
    pipelines = client.get(f"/v1/admin/features/{key}/pipelines", headers=headers).json()
    return len(forms), len(pipelines["items"])


def _invalid_forms() -> list[tuple[str, Any]]:
    form = seed_feature("cutout").form
    with_ref = copy.deepcopy(form)
    with_ref["properties"]["image"] = {"$ref": "https://example.com/schema.json"}
    open_form = {**form, "additionalProperties": True}
    return [
        ("not an object", ["image"]),
        ("a remote $ref", with_ref),
        ("an open object", open_form),
        ("a bad type", {**form, "type": "nonsense"}),
    ]


@pytest.mark.parametrize("case", _invalid_forms(), ids=lambda case: case[0])
def test_an_invalid_form_is_422_with_field_errors_and_stores_nothing(
    client: TestClient, case: tuple[str, Any]
) -> None:
    key = fresh_feature()
    _, operator = new_account("operator")
    before = _versions(client, key, operator)

    response = client.post(
        f"/v1/admin/features/{key}/forms",
        json={"json_schema": case[1], "make_current": True},
        headers=operator,
    )

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "VALIDATION_FAILED"
    assert problem["errors"] and all(error["field"] for error in problem["errors"])
    assert _versions(client, key, operator) == before
    assert get_feature(database=get_database(), key=key).form_version == 1
    assert audit_rows(key) == []


def test_a_form_with_a_catastrophic_pattern_or_no_max_length_is_422_naming_the_fields(
    client: TestClient,
) -> None:
    key = fresh_feature()
    _, operator = new_account("operator")
    before = _versions(client, key, operator)
    form = copy.deepcopy(seed_feature("cutout").form)
    form["properties"]["code"] = {"type": "string", "pattern": "^(a|a)*$"}

    response = client.post(
        f"/v1/admin/features/{key}/forms",
        json={"json_schema": form, "make_current": True},
        headers={**operator, "Accept-Language": "en"},
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "VALIDATION_FAILED"
    assert {(error["field"], error["code"]) for error in problem["errors"]} == {
        ("body.json_schema.properties.code.pattern", "pattern_backtracking"),
        ("body.json_schema.properties.code.maxLength", "pattern_max_length"),
    }
    assert _versions(client, key, operator) == before
    assert audit_rows(key) == []


@pytest.mark.parametrize(
    ("case", "steps", "field"),
    [
        (
            "unknown step",
            [{"step": "paint"}, {"step": "generate", "providers": ["local"]}],
            "body.steps",
        ),
        ("unknown provider", [{"step": "generate", "providers": ["no_such_vendor"]}], "body.steps"),
    ],
    ids=["unknown step", "unknown provider"],
)
def test_a_pipeline_naming_an_unknown_step_or_provider_is_422_and_stores_nothing(
    client: TestClient, case: str, steps: list[dict[str, Any]], field: str
) -> None:
    key = fresh_feature()
    _, operator = new_account("operator")
    before = _versions(client, key, operator)

    response = client.post(
        f"/v1/admin/features/{key}/pipelines", json={"steps": steps}, headers=operator
    )

    assert response.status_code == 422
    assert all(error["field"].startswith(field) for error in response.json()["errors"])
    assert _versions(client, key, operator) == before
    assert audit_rows(key) == []


def test_an_operator_cannot_point_a_provider_at_the_metadata_service(
    client: TestClient,
) -> None:
    # GIVEN an operator (config rights, but not provider writes)
    key = f"p_{secrets.token_hex(4)}"
    _, operator = new_account("operator")
    body = {
        "kind": "runninghub",
        "endpoint": "http://169.254.169.254/latest",
        "credential_ref": "secretsmanager:prod/retouch/jwt-keys",
        "concurrency_limit": 2,
        "options": {"result_hosts": ["169.254.169.254", "localhost"]},
    }

    response = client.put(f"/v1/admin/providers/{key}", json=body, headers=operator)

    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "FORBIDDEN"
    assert key not in {provider.key for provider in list_providers(database=get_database())}
    assert audit_rows(key) == []


def test_an_admins_provider_change_is_audited_with_before_and_after(
    client: TestClient,
) -> None:
    key = f"p_{secrets.token_hex(4)}"
    account, admin = new_account("admin")
    body = {"kind": "simulator", "endpoint": "http://127.0.0.1:8900", "concurrency_limit": 2}

    created = client.put(f"/v1/admin/providers/{key}", json=body, headers=admin)
    changed = client.put(
        f"/v1/admin/providers/{key}", json={**body, "concurrency_limit": 4}, headers=admin
    )

    assert created.status_code == 200, created.text
    assert changed.status_code == 200, changed.text
    first, second = audit_rows(key)
    assert first["actor"] == account["id"] and first["target_type"] == "provider"
    assert first["before_state"] is None
    assert first["after_state"]["endpoint"] == "http://127.0.0.1:8900"
    assert second["before_state"]["concurrency_limit"] == 2
    assert second["after_state"]["concurrency_limit"] == 4
    assert second["after_state"]["kind"] == "simulator"


def test_a_provider_with_a_raw_secret_is_422_not_echoed_and_not_stored(
    client: TestClient,
) -> None:
    key = f"p_{secrets.token_hex(4)}"
    secret = "sk-live-" + secrets.token_hex(12)
    _, admin = new_account("admin")
    body = {"kind": "runninghub", "credential_ref": secret, "concurrency_limit": 2}

    response = client.put(f"/v1/admin/providers/{key}", json=body, headers=admin)

    assert response.status_code == 422
    assert secret not in response.text
    assert key not in {provider.key for provider in list_providers(database=get_database())}
    assert audit_rows(key) == []


@pytest.mark.parametrize(
    "reference",
    [
        "secretsmanager:prod/retouch/jwt-keys",
        "secretsmanager:retouch/db-password",
        "secretsmanager:retouch/providers/tencent",
        "ssm:/retouch/providers/hunyuan",
        "env:RETOUCH_SECRET_RUNNINGHUB",
    ],
)
def test_a_provider_naming_a_secret_not_its_own_is_422_and_not_stored(
    client: TestClient, reference: str
) -> None:
    key = f"p_{secrets.token_hex(4)}"
    _, admin = new_account("admin")
    body = {"kind": "runninghub", "credential_ref": reference, "concurrency_limit": 2}

    response = client.put(f"/v1/admin/providers/{key}", json=body, headers=admin)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["code"] == "VALIDATION_FAILED"
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("body.credential_ref", "foreign_secret")
    ]
    assert key not in {provider.key for provider in list_providers(database=get_database())}
    assert audit_rows(key) == []


@pytest.fixture
def production_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The deploy's default: no local network for providers, no extra hosts."""
    monkeypatch.setenv("RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK", "false")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"endpoint": "http://169.254.169.254/latest"}, "endpoint"),
        ({"endpoint": "http://127.0.0.1:6379"}, "endpoint"),
        ({"endpoint": "http://0x7f000001:3307"}, "endpoint"),
        ({"options": {"result_hosts": [".runninghub.cn", "169.254.169.254"]}}, None),
        ({"options": {"result_hosts": ["localhost"]}}, None),
        ({"kind": "simulator"}, "kind"),
    ],
)
def test_a_provider_reaching_off_the_allowlist_is_422_and_not_stored(
    client: TestClient, production_network: None, changes: dict[str, Any], field: str | None
) -> None:
    key = f"p_{secrets.token_hex(4)}"
    _, admin = new_account("admin")
    body = {"kind": "runninghub", "concurrency_limit": 2, **changes}

    response = client.put(f"/v1/admin/providers/{key}", json=body, headers=admin)

    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["code"] == "VALIDATION_FAILED"
    fields = [e["field"] for e in problem["errors"] if e["code"] == "destination_not_allowed"]
    expected = field or f"options.result_hosts[{len(changes['options']['result_hosts']) - 1}]"
    assert fields == [f"body.{expected}"]
    assert key not in {provider.key for provider in list_providers(database=get_database())}
    assert audit_rows(key) == []


def test_runninghubs_own_endpoint_is_stored_in_production(
    client: TestClient, production_network: None
) -> None:
    key = f"p_{secrets.token_hex(4)}"
    _, admin = new_account("admin")
    body = {
        "kind": "runninghub",
        "concurrency_limit": 2,
        "endpoint": "https://www.runninghub.ai",
        "options": {"result_hosts": [".runninghub.ai"]},
    }

    response = client.put(f"/v1/admin/providers/{key}", json=body, headers=admin)

    assert response.status_code == 200, response.text


def test_options_a_provider_kind_does_not_take_are_422_and_not_stored(
    client: TestClient,
) -> None:
    key = f"p_{secrets.token_hex(4)}"
    _, admin = new_account("admin")
    body = {"kind": "simulator", "concurrency_limit": 2, "options": {"workflow_id": "1"}}

    response = client.put(f"/v1/admin/providers/{key}", json=body, headers=admin)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body.options.workflow_id"
    assert key not in {provider.key for provider in list_providers(database=get_database())}


def test_vendor_options_are_checked_against_the_kinds_model_and_stored(
    client: TestClient,
) -> None:
    key = f"p_{secrets.token_hex(4)}"
    _, admin = new_account("admin")
    cutout = {"mode": "workflow", "workflow_id": "185", "images": {}}
    body = {"kind": "runninghub", "concurrency_limit": 2, "options": {"features": {}}}

    missing_id = client.put(
        f"/v1/admin/providers/{key}",
        json={**body, "options": {"features": {"cutout": {"mode": "workflow"}}}},
        headers=admin,
    )
    saved = client.put(
        f"/v1/admin/providers/{key}",
        json={**body, "options": {"features": {"cutout": cutout}}},
        headers=admin,
    )

    assert missing_id.status_code == 422
    assert [e["field"] for e in missing_id.json()["errors"]] == [
        "body.options.features.cutout.workflow.workflow_id"
    ]
    assert saved.status_code == 200, saved.text
    listed = client.get("/v1/admin/providers", headers=admin).json()["items"]
    stored = next(p for p in listed if p["key"] == key)["options"]
    assert stored["features"]["cutout"]["workflow_id"] == "185"


def test_an_admin_disables_a_provider_with_an_audit_row(client: TestClient) -> None:
    key = f"p_{secrets.token_hex(4)}"
    _, admin = new_account("admin")
    body = {
        "kind": "simulator",
        "concurrency_limit": 2,
        "credential_ref": f"env:RETOUCH_SECRET_{key.upper()}",
    }

    created = client.put(f"/v1/admin/providers/{key}", json=body, headers=admin)
    disabled = client.put(
        f"/v1/admin/providers/{key}", json={**body, "enabled": False}, headers=admin
    )

    assert created.status_code == 200 and created.json()["enabled"] is True
    assert disabled.status_code == 200 and disabled.json()["enabled"] is False
    listed = client.get("/v1/admin/providers", headers=admin).json()["items"]
    assert next(p for p in listed if p["key"] == key)["enabled"] is False
    rows = audit_rows(key)
    assert [row["action"] for row in rows] == ["provider.save", "provider.save"]
    assert rows[1]["before_state"]["enabled"] is True
    assert rows[1]["after_state"]["enabled"] is False


def test_rollback_restores_the_previous_form_and_old_versions_stay_readable(
    client: TestClient,
) -> None:
    # GIVEN a feature whose form version 2 (one more field) is current
    key = fresh_feature()
    _, operator = new_account("operator")
    form = copy.deepcopy(seed_feature("cutout").form)
    form["properties"]["strength"] = {"type": "integer", "minimum": 1, "maximum": 5}
    body = {"json_schema": form, "make_current": True}
    assert (
        client.post(f"/v1/admin/features/{key}/forms", json=body, headers=operator).status_code
        == 201
    )

    # WHEN an operator rolls the form back
    response = client.post(
        f"/v1/admin/features/{key}/rollback", json={"kind": "form"}, headers=operator
    )

    # THEN version 1 is current again (publicly too), and both versions stay readable
    assert response.status_code == 200, response.text
    assert response.json()["form_version"] == 1
    public = client.get(f"/v1/features/{key}").json()
    assert "strength" not in public["form_schema"]["properties"]
    v1 = client.get(f"/v1/admin/features/{key}/forms/1", headers=operator).json()
    v2 = client.get(f"/v1/admin/features/{key}/forms/2", headers=operator).json()
    assert "strength" not in v1["json_schema"]["properties"]
    assert "strength" in v2["json_schema"]["properties"]
    assert "created_by" not in v2


def test_a_rollback_without_an_older_version_is_404(client: TestClient) -> None:
    key = fresh_feature()
    _, operator = new_account("operator")

    response = client.post(
        f"/v1/admin/features/{key}/rollback", json={"kind": "pipeline"}, headers=operator
    )

    assert response.status_code == 404
    assert get_feature(database=get_database(), key=key).pipeline_version == 1


def test_switching_to_a_missing_version_is_404_and_changes_nothing(client: TestClient) -> None:
    key = fresh_feature(cost=3)
    _, operator = new_account("operator")

    response = client.patch(
        f"/v1/admin/features/{key}", json={"cost": 5, "form_version": 99}, headers=operator
    )

    assert response.status_code == 404
    feature = get_feature(database=get_database(), key=key)
    assert (feature.cost, feature.form_version) == (3, 1)
    assert audit_rows(key) == []


def test_every_write_records_who_what_before_after_and_the_request_id(
    client: TestClient,
) -> None:
    # GIVEN a feature and an operator
    key = fresh_feature(cost=3)
    operator, headers = new_account("operator")
    steps = seed_feature("cutout").pipeline

    # WHEN the operator changes the cost, adds a pipeline version and switches back to v1
    patched = client.patch(f"/v1/admin/features/{key}", json={"cost": 4}, headers=headers)
    added = client.post(
        f"/v1/admin/features/{key}/pipelines",
        json={"steps": steps, "make_current": True},
        headers=headers,
    )
    switched = client.patch(
        f"/v1/admin/features/{key}", json={"pipeline_version": 1}, headers=headers
    )

    # THEN one audit row per write, in order, with the states and the request ids
    rows = audit_rows(key)
    assert [row["action"] for row in rows] == ["feature.update", "pipeline.add", "feature.update"]
    assert all(row["actor"] == operator["id"] for row in rows)
    assert [row["request_id"] for row in rows] == [
        response.headers["x-request-id"] for response in (patched, added, switched)
    ]
    assert rows[0]["before_state"]["cost"] == 3 and rows[0]["after_state"]["cost"] == 4
    assert rows[1]["after_state"] == {"version": 2, "made_current": True}
    assert rows[2]["before_state"]["pipeline_version"] == 2
    assert rows[2]["after_state"]["pipeline_version"] == 1


def test_an_empty_patch_is_422(client: TestClient) -> None:
    key = fresh_feature()
    _, operator = new_account("operator")

    response = client.patch(f"/v1/admin/features/{key}", json={}, headers=operator)

    assert response.status_code == 422
