"""API5:2023 Broken Function Level Authorization: a user gets 403 on every admin function, an
operator on the admin-only ones (role changes, credit grants, provider writes); nothing is
stored."""

from __future__ import annotations

import secrets

import httpx
import pytest

from tests.integration.identity_support import audit_rows
from tests.integration.task_support import quota
from tests.security.conftest import account, problem

pytestmark = [pytest.mark.integration, pytest.mark.security]

PROVIDER = {"kind": "simulator", "endpoint": "http://127.0.0.1:8900", "concurrency_limit": 2}


def test_a_user_is_403_on_admin_functions(http: httpx.Client) -> None:
    user, headers = account()
    calls = [
        ("GET", "/v1/admin/users", None),
        ("PATCH", f"/v1/admin/users/{user}", {"role": "admin"}),
        ("POST", f"/v1/admin/users/{user}/credits", {"amount": 500, "reason": "me"}),
        ("PATCH", "/v1/admin/features/cutout", {"cost": 0}),
        ("GET", "/v1/admin/providers", None),
        ("PUT", f"/v1/admin/providers/p_{secrets.token_hex(4)}", PROVIDER),
    ]

    for method, path, body in calls:
        problem(http.request(method, path, json=body, headers=headers), 403, "FORBIDDEN")

    assert http.get("/v1/me", headers=headers).json()["role"] == "user"
    assert quota(user)["balance"] == 100
    assert http.get("/v1/features/cutout").json()["cost"] > 0


def test_an_operator_is_403_on_role_changes_credit_grants_and_provider_writes(
    http: httpx.Client,
) -> None:
    _, operator = account("operator")
    target, _ = account()
    key = f"p_{secrets.token_hex(4)}"

    role = http.patch(f"/v1/admin/users/{target}", json={"role": "admin"}, headers=operator)
    grant = http.post(
        f"/v1/admin/users/{target}/credits", json={"amount": 5, "reason": "x"}, headers=operator
    )
    provider = http.put(f"/v1/admin/providers/{key}", json=PROVIDER, headers=operator)

    for response in (role, grant, provider):
        problem(response, 403, "FORBIDDEN")
    assert quota(target)["balance"] == 100
    assert audit_rows(target) == [] and audit_rows(key) == []
    # the operator's own rights still work: this was the permission, not a broken route
    assert http.get("/v1/admin/users", headers=operator).status_code == 200
