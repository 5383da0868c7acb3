"""`scripts/pay` against the users function served over HTTP: a newcomer who registered and
verified from the mail buys a credit pack and a month of pro as the fake gateway pays them,
and sees the plan, its expiry and the credits; an order already paid, another's provider's
or unknown is refused without a notification sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from scripts.local.pay import main as pay
from scripts.local.servers import serving_app
from tests.integration.identity_support import Api, bearer
from tests.integration.payments_support import order, state

pytestmark = pytest.mark.integration


@pytest.fixture
def users_url(identity_apps: tuple[Any, Any]) -> Iterator[str]:
    with serving_app(identity_apps[1]) as url:
        yield url


def _paid(order_id: str, url: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert pay([order_id, "--api", url]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (outcome,) = [line for line in printed if "order" in line and "answer" in line]
    return dict(outcome)


def test_a_newcomer_buys_credits_and_a_month_of_pro(
    api: Api, users_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens = api.register()  # registered, verified from the mailed link, signed in
    headers = bearer(tokens["access_token"])
    before = state(tokens["user"])["balance"]
    credits, month = order(api, headers, "credits_500"), order(api, headers, "pro_month")

    assert _paid(credits["id"], users_url, capsys)["status"] == 200
    assert _paid(month["id"], users_url, capsys)["status"] == 200

    me = api.users.get("/v1/me", headers=headers).json()
    assert me["membership"]["plan"] == "pro"
    assert me["membership"]["expires_at"] is not None
    ledger = api.users.get("/v1/me/quota/ledger", headers=headers).json()
    assert [row["amount"] for row in ledger["items"] if row["kind"] == "top_up"] == [500]
    assert state(tokens["user"]) == {
        "balance": before + 500,
        "top_ups": [500],
        "orders": ["paid", "paid"],
    }


def test_an_order_paid_already_or_unknown_is_not_paid_again(
    api: Api, users_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    user, headers = api.signed_in("user")
    credits = order(api, headers, "credits_500")
    _paid(credits["id"], users_url, capsys)

    assert pay([credits["id"], "--api", users_url]) == 2
    assert pay(["ord_doesnotexist0000000", "--api", users_url]) == 2
    assert "not a fake order to pay" in capsys.readouterr().err
    assert state(user) | {"balance": 0} == {"balance": 0, "top_ups": [500], "orders": ["paid"]}
