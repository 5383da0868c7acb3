"""A refused reservation is a 402 whose body says, as integers, what was needed and what the
balance was; nothing is reserved."""

from __future__ import annotations

import json

import pytest

from retouch.http.problems import problem_response
from retouch.quota.errors import QuotaExceeded
from retouch.quota.reservations import reserve
from tests.fakes.units import InMemoryDatabase
from tests.unit.quota.conftest import USER, at


@pytest.mark.parametrize(
    ("language", "detail"),
    [("en", "11 credits are needed; the balance is 10"), ("zh-CN", "需要 11 点额度，当前余额 10")],
)
def test_a_402_carries_needed_and_balance(
    database: InMemoryDatabase, language: str, detail: str
) -> None:
    with pytest.raises(QuotaExceeded) as refused:
        reserve(database=database, user_id=USER, amount=11, task_ref="t1", clock=at())

    response = problem_response(refused.value, request_id="req-1", language=language)

    body = json.loads(bytes(response.body))
    assert response.status_code == 402
    assert (body["code"], body["needed"], body["balance"]) == ("QUOTA_EXCEEDED", 11, 10)
    assert type(body["needed"]) is int and type(body["balance"]) is int
    assert body["detail"] == detail
