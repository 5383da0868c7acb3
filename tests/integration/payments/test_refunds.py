"""Refunds on the real stack: an admin asks (audited, Idempotency-Key), the provider's signed
refund notification takes the product back exactly once; another amount, a refund nobody
asked for, partly spent credits and a refund racing task creation."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from retouch.bootstrap.clients import reset_clients
from retouch.core.db import get_database
from retouch.quota.errors import QuotaExceeded
from retouch.quota.reservations import reserve
from tests.integration.identity_support import Api, audit_rows, internal_id
from tests.integration.payments_support import (
    order,
    paid_order,
    refund_no_of,
    refund_notification,
    send,
    state,
)
from tests.integration.quota_support import account_of, assert_ledger_matches, spend_down_to

pytestmark = pytest.mark.integration


def ask_refund(
    api: Api, admin: dict[str, str], order_id: str, key: str | None = None
) -> dict[str, Any]:
    headers = admin if key is None else {**admin, "Idempotency-Key": key}
    response = api.users.post(
        f"/v1/admin/orders/{order_id}/refund", json={"reason": "ticket 5120"}, headers=headers
    )
    assert response.status_code == 202, response.text
    return dict(response.json())


def refunds_of(user: dict[str, Any]) -> list[int]:
    """The amounts of the user's `refund_purchase` ledger rows."""
    with get_database().unit_of_work() as uow:
        rows = uow.fetch_all(
            "SELECT amount FROM quota_ledger WHERE user_id = %s AND kind = 'refund_purchase'",
            (internal_id(user["id"]),),
        )
    return [int(row["amount"]) for row in rows]


def test_a_refunded_credit_pack_takes_its_credits_back_once_confirmed(api: Api) -> None:
    user, headers = api.signed_in("user")
    actor, admin = api.signed_in("admin")
    placed = paid_order(api, headers)
    paid = state(user)

    asked = ask_refund(api, admin, placed["id"])

    assert asked["status"] == "refunding"
    assert state(user)["balance"] == paid["balance"]  # nothing taken before the provider says
    response = send(api, refund_notification(placed["id"], 1500))
    assert response.status_code == 200, response.text
    after = state(user)
    assert (after["balance"], after["orders"]) == (paid["balance"] - 500, ["refunded"])
    assert refunds_of(user) == [-500]
    read = api.users.get(f"/v1/orders/{placed['id']}", headers=headers).json()
    assert (read["status"], read["refund_shortfall"]) == ("refunded", 0)
    rows = audit_rows(placed["id"])
    assert [(row["action"], row["actor"]) for row in rows] == [
        ("order.refund", actor["id"]),
        ("order.refunded", None),
    ]
    assert_ledger_matches(get_database(), internal_id(user["id"]))


def test_a_refund_notification_twice_and_resent_with_a_new_nonce_applies_once(api: Api) -> None:
    user, headers = api.signed_in("user")
    _, admin = api.signed_in("admin")
    placed = paid_order(api, headers)
    ask_refund(api, admin, placed["id"])
    once = refund_notification(placed["id"], 1500)

    answers = [send(api, once).status_code for _ in range(2)]
    answers.append(send(api, refund_notification(placed["id"], 1500)).status_code)

    assert answers == [200, 200, 200]
    assert refunds_of(user) == [-500]
    assert state(user)["orders"] == ["refunded"]


@pytest.mark.parametrize(
    ("amount", "refund_no"),
    [(1, None), (150000, None), (1500, "rfd_AAAAAAAAAAAAAAAAAAAAAA")],
    ids=["less", "more", "another-refund"],
)
def test_a_refund_notification_of_another_amount_or_refund_is_refused(
    api: Api, amount: int, refund_no: str | None
) -> None:
    user, headers = api.signed_in("user")
    _, admin = api.signed_in("admin")
    placed = paid_order(api, headers)
    ask_refund(api, admin, placed["id"])
    before = state(user)

    response = send(api, refund_notification(placed["id"], amount, refund_no=refund_no))

    assert (response.status_code, response.json()["code"]) == (409, "PAYMENT_MISMATCH")
    assert state(user) == {**before, "orders": ["refunding"]}
    assert refunds_of(user) == []


def test_a_refund_nobody_asked_for_is_refused(api: Api) -> None:
    user, headers = api.signed_in("user")
    placed = paid_order(api, headers)
    before = state(user)

    response = send(
        api, refund_notification(placed["id"], 1500, refund_no="rfd_BBBBBBBBBBBBBBBBBBBBBB")
    )

    assert (response.status_code, response.json()["code"]) == (409, "PAYMENT_MISMATCH")
    assert state(user) == before


def test_a_refund_of_partly_spent_credits_takes_what_remains_and_records_the_shortfall(
    api: Api,
) -> None:
    user, headers = api.signed_in("user")
    _, admin = api.signed_in("admin")
    placed = paid_order(api, headers)
    spend_down_to(get_database(), internal_id(user["id"]), 200)
    ask_refund(api, admin, placed["id"])

    assert send(api, refund_notification(placed["id"], 1500)).status_code == 200

    assert state(user)["balance"] == 0
    assert refunds_of(user) == [-200]
    read = api.users.get(f"/v1/orders/{placed['id']}", headers=headers).json()
    assert (read["status"], read["refund_shortfall"]) == ("refunded", 300)
    assert audit_rows(placed["id"])[-1]["after_state"]["refund_shortfall"] == 300
    assert_ledger_matches(get_database(), internal_id(user["id"]))


def race(api: Api, *, user_id: int, order_id: str) -> dict[str, Any]:
    """A task creation reserving 400 credits and the order's refund notification, at once."""
    database = get_database()
    barrier = threading.Barrier(2)
    outcome: dict[str, Any] = {}

    def create_task() -> None:
        barrier.wait()
        try:
            outcome["reserved"] = reserve(
                database=database, user_id=user_id, amount=400, task_ref=f"race:{user_id}"
            )
        except QuotaExceeded:
            outcome["reserved"] = False

    def refund() -> None:
        notice = refund_notification(order_id, 1500)
        barrier.wait()
        outcome["refund"] = send(api, notice).status_code

    threads = [threading.Thread(target=create_task), threading.Thread(target=refund)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcome


def test_a_refund_racing_task_creation_never_makes_the_balance_negative(api: Api) -> None:
    database = get_database()
    _, admin = api.signed_in("admin")
    for _ in range(4):
        user, headers = api.signed_in("user")
        user_id = internal_id(user["id"])
        placed = paid_order(api, headers)
        spend_down_to(database, user_id, 500)  # the pack is all that is left
        ask_refund(api, admin, placed["id"])

        outcome = race(api, user_id=user_id, order_id=placed["id"])

        account = account_of(database, user_id)
        assert outcome["refund"] == 200
        assert account["balance"] == 0
        # the task came first and kept its 400 (100 taken back), or the refund took all 500
        expected = ([-100], 400) if outcome["reserved"] else ([-500], 0)
        assert (refunds_of(user), account["reserved"]) == expected
        assert_ledger_matches(database, user_id)


def test_a_refunded_plan_month_ends_the_plan(api: Api) -> None:
    user, headers = api.signed_in("user")
    _, admin = api.signed_in("admin")
    placed = paid_order(api, headers, "pro_month")
    assert api.users.get("/v1/me", headers=headers).json()["membership"]["plan"] == "pro"
    balance = state(user)["balance"]
    ask_refund(api, admin, placed["id"])

    assert send(api, refund_notification(placed["id"], 3900)).status_code == 200

    membership = api.users.get("/v1/me", headers=headers).json()["membership"]
    assert membership == {"plan": "free", "expires_at": None}
    assert state(user)["balance"] == balance  # a plan ending changes no balance
    assert audit_rows(placed["id"])[-1]["after_state"]["plan"] == "free"


def test_a_refund_asked_twice_with_one_key_answers_once(api: Api) -> None:
    _, headers = api.signed_in("user")
    _, admin = api.signed_in("admin")
    placed = paid_order(api, headers)

    first = ask_refund(api, admin, placed["id"], key="refund-key-1")
    second = ask_refund(api, admin, placed["id"], key="refund-key-1")

    assert first == second
    assert [row["action"] for row in audit_rows(placed["id"])] == ["order.refund"]


def test_a_refund_the_gateway_fails_is_kept_sent_again_with_its_number_and_applied_once(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    user, headers = api.signed_in("user")
    _, admin = api.signed_in("admin")
    placed = paid_order(api, headers)
    paid = state(user)
    # GIVEN the provider cannot be reached
    monkeypatch.setenv("RETOUCH_PAYMENTS_FAKE_OUTAGE", "true")
    reset_clients()

    # WHEN an admin asks for the refund (with a key, as a client that retries does)
    body = {"reason": "ticket 5121"}
    url = f"/v1/admin/orders/{placed['id']}/refund"
    failed = api.users.post(url, json=body, headers={**admin, "Idempotency-Key": "rfd-outage"})

    # THEN it is a 503 problem, the order is kept `refunding` with its refund number, and
    # nothing is taken back
    assert failed.status_code == 503, failed.text
    assert failed.headers["content-type"] == "application/problem+json"
    assert failed.json()["code"] == "SERVICE_UNAVAILABLE"
    assert state(user) == {**paid, "orders": ["refunding"]}
    number = refund_no_of(placed["id"])

    # WHEN the provider is back and the admin asks again with the same key
    monkeypatch.delenv("RETOUCH_PAYMENTS_FAKE_OUTAGE")
    reset_clients()
    again = api.users.post(url, json=body, headers={**admin, "Idempotency-Key": "rfd-outage"})

    # THEN the same refund is sent (the same number, so the gateway refunds once), and its
    # notification, delivered twice, takes the credits back once
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "refunding"
    assert refund_no_of(placed["id"]) == number
    for _ in range(2):
        assert send(api, refund_notification(placed["id"], 1500)).status_code == 200
    assert state(user) == {**paid, "balance": paid["balance"] - 500, "orders": ["refunded"]}
    assert refunds_of(user) == [-500]
    assert [row["action"] for row in audit_rows(placed["id"])] == [
        "order.refund",
        "order.refunded",
    ]


def test_refunds_of_orders_not_paid_are_refused(api: Api) -> None:
    user, headers = api.signed_in("user")
    _, admin = api.signed_in("admin")
    unpaid = order(api, headers)
    refunded = paid_order(api, headers)
    ask_refund(api, admin, refunded["id"])
    assert send(api, refund_notification(refunded["id"], 1500)).status_code == 200
    body = {"reason": "again"}

    answers = [
        api.users.post(f"/v1/admin/orders/{order_id}/refund", json=body, headers=admin)
        for order_id in (unpaid["id"], refunded["id"], "ord_CCCCCCCCCCCCCCCCCCCCCC")
    ]

    assert [(r.status_code, r.json()["code"]) for r in answers] == [
        (409, "ORDER_NOT_REFUNDABLE"),
        (409, "ORDER_NOT_REFUNDABLE"),
        (404, "NOT_FOUND"),
    ]
    assert state(user)["orders"] == ["created", "refunded"]


@pytest.mark.parametrize(
    ("role", "body", "status"),
    [
        ("user", {"reason": "mine"}, 403),
        ("operator", {"reason": "ops"}, 403),
        ("admin", {}, 422),
        ("admin", {"reason": "x", "amount_cents": 1}, 422),
        ("admin", {"reason": ""}, 422),
    ],
)
def test_refund_requests_need_an_admin_and_a_reason(
    api: Api, role: str, body: dict[str, Any], status: int
) -> None:
    user, headers = api.signed_in("user")
    _, caller = api.signed_in(role)
    placed = paid_order(api, headers)

    response = api.users.post(f"/v1/admin/orders/{placed['id']}/refund", json=body, headers=caller)

    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert state(user)["orders"] == ["paid"]
