"""API3:2023 Broken Object Property Level Authorization: a client cannot write a property it
does not own (mass assignment of role, credits, plan, hash), and no answer carries one it
must not read (password hash, internal ids)."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.identity_support import PASSWORD, internal_id, new_email
from tests.integration.task_support import quota
from tests.security.conftest import account, problem

pytestmark = [pytest.mark.integration, pytest.mark.security]

SMUGGLED = {"role": "admin", "balance": 99999, "credits": 99999, "plan": "max", "status": "active"}


def test_sign_up_with_role_credits_or_plan_is_422_and_creates_nothing(http: httpx.Client) -> None:
    email = new_email("mass")

    response = http.post(
        "/v1/auth/register", json={"email": email, "password": PASSWORD, **SMUGGLED}
    )

    body = problem(response, 422, "VALIDATION_FAILED")
    assert {error["field"] for error in body["errors"]} == {f"body.{key}" for key in SMUGGLED}
    problem(http.post("/v1/auth/login", json={"email": email, "password": PASSWORD}), 401,
            "UNAUTHENTICATED")  # fmt: skip


def test_the_profile_has_no_write_route_and_admin_patches_take_only_role_and_status(
    http: httpx.Client,
) -> None:
    user, headers = account()
    _, admin = account("admin")

    patch_me = http.patch("/v1/me", json={"role": "admin"}, headers=headers)
    smuggled = http.patch(
        f"/v1/admin/users/{user}",
        json={"role": "operator", "balance": 99999, "password_hash": "$argon2id$x"},
        headers=admin,
    )

    problem(patch_me, 405, "METHOD_NOT_ALLOWED")
    body = problem(smuggled, 422, "VALIDATION_FAILED")
    assert {error["field"] for error in body["errors"]} == {"body.balance", "body.password_hash"}
    me = http.get("/v1/me", headers=headers).json()
    assert me["role"] == "user"  # the valid part of the refused body was not applied either
    assert quota(user)["balance"] == 100


def test_answers_carry_no_password_hash_and_no_internal_id(http: httpx.Client) -> None:
    user, headers = account()
    _, admin = account("admin")
    number = str(internal_id(user))

    me = http.get("/v1/me", headers=headers)
    read = http.get(f"/v1/admin/users/{user}", headers=admin)

    assert set(me.json()) == {"id", "email", "email_verified", "role", "membership", "created_at"}
    assert set(read.json()) == {"id", "email", "role", "status", "created_at", "updated_at"}
    for response in (me, read):
        assert "argon2" not in response.text and "password" not in response.text
        assert read.json()["id"] == user and f'"{number}"' not in response.text
        assert f":{number}," not in response.text and f":{number}}}" not in response.text
