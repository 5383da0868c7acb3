"""Admin credit grants: added through the quota service, audited, refused when malformed."""

from __future__ import annotations

from typing import Any

import pytest

from retouch.core.db import get_database
from retouch.quota.service import get_quota
from tests.integration.identity_support import Api, audit_rows, internal_id

pytestmark = pytest.mark.integration


def test_a_credit_grant_adds_to_the_balance_and_is_audited(api: Api) -> None:
    # GIVEN a user with the free plan's credits
    actor, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")
    user_id = internal_id(target["id"])
    before = get_quota(database=get_database(), user_id=user_id).balance

    # WHEN an admin grants 50 credits with a reason
    response = api.users.post(
        f"/v1/admin/users/{target['id']}/credits",
        json={"amount": 50, "reason": "support ticket 42"},
        headers={**admin, "X-Request-ID": "grant-test-0001"},
    )

    # THEN the balance grew by 50, and the audit row says so
    assert response.status_code == 200
    assert response.json() == {"user_id": target["id"], "amount": 50, "balance": before + 50}
    assert get_quota(database=get_database(), user_id=user_id).balance == before + 50
    (row,) = audit_rows(target["id"])
    assert (row["action"], row["actor"], row["request_id"], row["client_request_id"]) == (
        "user.grant_credits",
        actor["id"],
        response.headers["x-request-id"],
        "grant-test-0001",
    )
    assert row["before_state"] == {"balance": before}
    assert row["after_state"]["balance"] == before + 50
    assert row["after_state"]["reason"] == "support ticket 42"


@pytest.mark.parametrize(
    "body",
    [
        {"amount": 0, "reason": "x"},
        {"amount": -5, "reason": "x"},
        {"amount": 5},
        {"amount": 5, "reason": "x", "balance": 1},
    ],
)
def test_bad_credit_grants_are_422_and_change_nothing(api: Api, body: dict[str, Any]) -> None:
    _, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")
    user_id = internal_id(target["id"])
    before = get_quota(database=get_database(), user_id=user_id).balance

    response = api.users.post(f"/v1/admin/users/{target['id']}/credits", json=body, headers=admin)

    assert response.status_code == 422
    assert get_quota(database=get_database(), user_id=user_id).balance == before


@pytest.mark.parametrize("amount", [b"true", b'"5"', b"1e6", b"5.0"])
def test_a_grant_amount_of_another_json_type_is_422_not_coerced(api: Api, amount: bytes) -> None:
    _, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")
    user_id = internal_id(target["id"])
    before = get_quota(database=get_database(), user_id=user_id).balance

    response = api.users.post(
        f"/v1/admin/users/{target['id']}/credits",
        content=b'{"amount": ' + amount + b', "reason": "probe"}',
        headers={**admin, "Content-Type": "application/json"},
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [error["field"] for error in response.json()["errors"]] == ["body.amount"]
    assert get_quota(database=get_database(), user_id=user_id).balance == before
    assert audit_rows(target["id"]) == []
