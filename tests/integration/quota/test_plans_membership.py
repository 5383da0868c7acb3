"""The plan catalogue and an admin's change of plan on the real database: `GET /v1/plans`
shows the seed's plans with their limits; `PATCH /v1/admin/users/{id}/membership` gives a
plan until an expiry (seen by `GET /v1/me` at once), audited, exactly once per
Idempotency-Key, and refuses bad plans, expiries and callers without changing anything."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from tests.integration.identity_support import Api, audit_rows

pytestmark = pytest.mark.integration


def _in_days(days: int) -> str:
    moment = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=days)
    return moment.isoformat().replace("+00:00", "Z")


def test_the_plan_catalogue_is_public_with_credits_features_price_and_limits(api: Api) -> None:
    response = api.users.get("/v1/plans")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=60"
    plans = {plan["code"]: plan for plan in response.json()["items"]}
    assert [plan["code"] for plan in response.json()["items"]][:3] == ["free", "pro", "max"]
    assert plans["free"]["monthly_credits"] == 100
    assert plans["pro"]["price_display"] == "¥39 / month"
    assert plans["free"]["limits"] == {"max_concurrent_tasks": 10, "max_input_pixels": 25000000}
    assert "cutout" in plans["max"]["features"]


def test_an_admin_gives_a_plan_until_an_expiry_audited_and_seen_by_me(api: Api) -> None:
    actor, admin = api.signed_in("admin")
    target, user = api.signed_in("user")
    expires = _in_days(30)

    response = api.users.patch(
        f"/v1/admin/users/{target['id']}/membership",
        json={"plan": "pro", "expires_at": expires, "reason": "contract 118"},
        headers=admin,
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["user_id"] == target["id"]
    assert body["membership"]["plan"] == "pro"
    assert body["membership"]["expires_at"].startswith(expires[:19])
    me = api.users.get("/v1/me", headers=user).json()
    assert me["membership"]["plan"] == "pro"
    (row,) = audit_rows(target["id"])
    assert (row["action"], row["actor"]) == ("user.change_membership", actor["id"])
    assert row["before_state"] == {"plan": "free", "expires_at": None}
    assert row["after_state"]["plan"] == "pro" and row["after_state"]["reason"] == "contract 118"

    # AND the default plan is a downgrade, at once
    down = api.users.patch(
        f"/v1/admin/users/{target['id']}/membership",
        json={"plan": "free", "reason": "contract ended"},
        headers=admin,
    )
    assert down.status_code == 200
    assert api.users.get("/v1/me", headers=user).json()["membership"] == {
        "plan": "free",
        "expires_at": None,
    }


def test_the_same_idempotency_key_changes_the_plan_once(api: Api) -> None:
    _, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")
    body = {"plan": "max", "expires_at": _in_days(7), "reason": "trial"}
    headers = {**admin, "Idempotency-Key": "membership-key-0001"}

    first = api.users.patch(
        f"/v1/admin/users/{target['id']}/membership", json=body, headers=headers
    )
    again = api.users.patch(
        f"/v1/admin/users/{target['id']}/membership", json=body, headers=headers
    )
    other = api.users.patch(
        f"/v1/admin/users/{target['id']}/membership",
        json={**body, "plan": "pro"},
        headers=headers,
    )

    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert other.status_code == 422
    assert other.json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    assert len(audit_rows(target["id"])) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"plan": "gold", "reason": "x"}, "body.plan"),
        ({"plan": "pro", "expires_at": "2001-01-01T00:00:00Z", "reason": "x"}, "body.expires_at"),
        ({"plan": "free", "expires_at": "2099-01-01T00:00:00Z", "reason": "x"}, "body.expires_at"),
        ({"plan": "pro", "expires_at": "2099-01-01T00:00:00", "reason": "x"}, "body.expires_at"),
        ({"plan": "pro", "reason": "x", "credits": 5}, "body.credits"),
        ({"plan": "pro"}, "body.reason"),
    ],
)
def test_bad_membership_changes_are_422_and_change_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    _, admin = api.signed_in("admin")
    target, user = api.signed_in("user")

    response = api.users.patch(
        f"/v1/admin/users/{target['id']}/membership", json=body, headers=admin
    )

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [error["field"] for error in response.json()["errors"]]
    assert api.users.get("/v1/me", headers=user).json()["membership"]["plan"] == "free"
    assert audit_rows(target["id"]) == []


def test_a_user_cannot_change_their_own_plan(api: Api) -> None:
    target, user = api.signed_in("user")

    response = api.users.patch(
        f"/v1/admin/users/{target['id']}/membership",
        json={"plan": "max", "reason": "please"},
        headers=user,
    )

    assert response.status_code == 403
    assert api.users.get("/v1/me", headers=user).json()["membership"]["plan"] == "free"
