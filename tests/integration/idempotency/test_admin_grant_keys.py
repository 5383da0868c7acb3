"""`Idempotency-Key` on the admin credit grant (`POST /v1/admin/users/{id}/credits`) against
real MariaDB: one grant per key, the first answer again, 422 for another body, 409 while the
first runs; and the key's scope (per user and operation) in the SQL adapter."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from retouch.core.db import get_database
from retouch.core.time import utc_now
from retouch.idempotency import IdempotencyKey, IdempotencyRepository, KeyClaim, request_hash
from retouch.tasks.service import CREATE_OPERATION
from retouch.users.service import GRANT_OPERATION
from tests.integration.identity_support import Api, audit_rows, internal_id
from tests.integration.quota_support import assert_ledger_matches, ledger_kinds

pytestmark = pytest.mark.integration


def grants(public_id: str) -> list[int]:
    """The amounts of the user's admin grants, oldest first."""
    return [
        amount
        for kind, amount in ledger_kinds(get_database(), internal_id(public_id))
        if kind == "grant"
    ]


def grant(api: Api, admin: dict[str, str], target: str, body: dict[str, Any], key: str) -> Any:
    return api.users.post(
        f"/v1/admin/users/{target}/credits", json=body, headers={**admin, "Idempotency-Key": key}
    )


def claim(user_id: int, operation: str, value: str, body: dict[str, Any]) -> KeyClaim:
    now = utc_now()
    return KeyClaim(
        key=IdempotencyKey(user_id=user_id, operation=operation, value=value),
        request_hash=request_hash(body),
        token="e" * 32,
        now=now,
        lease_until=now + timedelta(seconds=60),
        expires_at=now + timedelta(days=1),
    )


def test_the_same_key_twice_grants_once_and_answers_the_first_response(api: Api) -> None:
    # GIVEN an admin and a user
    _, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")
    body = {"amount": 50, "reason": "support ticket 7"}

    # WHEN the admin sends the same grant with the same key twice
    first = grant(api, admin, target["id"], body, "grant-once-1")
    again = grant(api, admin, target["id"], body, "grant-once-1")

    # THEN one grant: the ledger and the audit log hold one entry, the answers are the same
    assert (first.status_code, again.status_code) == (200, 200), again.text
    assert again.json() == first.json()
    assert grants(target["id"]) == [50]
    assert [row["action"] for row in audit_rows(target["id"])] == ["user.grant_credits"]
    assert_ledger_matches(get_database(), internal_id(target["id"]))


def test_the_same_key_with_another_amount_is_422_reused(api: Api) -> None:
    _, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")
    grant(api, admin, target["id"], {"amount": 50, "reason": "r"}, "grant-reused")

    other = grant(api, admin, target["id"], {"amount": 60, "reason": "r"}, "grant-reused")

    assert (other.status_code, other.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert other.headers["content-type"].startswith("application/problem+json")
    assert grants(target["id"]) == [50]


def test_the_same_key_for_another_user_is_422_reused(api: Api) -> None:
    _, admin = api.signed_in("admin")
    alice, _ = api.signed_in("user")
    bob, _ = api.signed_in("user")
    body = {"amount": 5, "reason": "r"}
    grant(api, admin, alice["id"], body, "grant-which-user")

    other = grant(api, admin, bob["id"], body, "grant-which-user")

    assert (other.status_code, other.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert (grants(alice["id"]), grants(bob["id"])) == ([5], [])


def test_the_key_while_its_first_grant_runs_is_409_in_use(api: Api) -> None:
    # GIVEN a first request holding the key, still running
    actor, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")
    body = {"amount": 5, "reason": "r"}
    with get_database().unit_of_work() as uow:
        held = claim(
            internal_id(actor["id"]),
            GRANT_OPERATION,
            "grant-slow",
            {"user_id": target["id"], **body},
        )
        assert uow.repository(IdempotencyRepository).insert(held)
        uow.commit()

    response = grant(api, admin, target["id"], body, "grant-slow")

    assert (response.status_code, response.json()["code"]) == (409, "IDEMPOTENCY_KEY_IN_USE")
    assert grants(target["id"]) == []


def test_the_same_key_sent_concurrently_grants_once(
    api: Api, identity_apps: tuple[Any, Any]
) -> None:
    _, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")
    body = {"amount": 7, "reason": "burst"}
    barrier = threading.Barrier(6)
    answers: list[Any] = []

    def send() -> None:
        with TestClient(identity_apps[1]) as own:
            barrier.wait()
            answers.append(
                own.post(
                    f"/v1/admin/users/{target['id']}/credits",
                    json=body,
                    headers={**admin, "Idempotency-Key": "grant-burst"},
                )
            )

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert {answer.status_code for answer in answers} <= {200, 409}
    assert len({answer.text for answer in answers if answer.status_code == 200}) == 1
    assert grants(target["id"]) == [7]
    assert_ledger_matches(get_database(), internal_id(target["id"]))


def test_a_malformed_key_is_422_and_grants_nothing(api: Api) -> None:
    _, admin = api.signed_in("admin")
    target, _ = api.signed_in("user")

    response = grant(api, admin, target["id"], {"amount": 5, "reason": "r"}, "has spaces")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.idempotency-key"
    assert grants(target["id"]) == []


def test_one_key_value_is_one_key_per_operation(api: Api) -> None:
    # The unique key is (user, operation, key) since migration 0011.
    user, _ = api.signed_in("user")
    user_id = internal_id(user["id"])
    with get_database().unit_of_work() as uow:
        keys = uow.repository(IdempotencyRepository)
        assert keys.insert(claim(user_id, CREATE_OPERATION, "shared", {}))
        assert keys.insert(claim(user_id, GRANT_OPERATION, "shared", {}))
        assert not keys.insert(claim(user_id, GRANT_OPERATION, "shared", {}))
        uow.commit()
