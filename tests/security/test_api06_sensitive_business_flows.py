"""API6:2023 Unrestricted Access to Sensitive Business Flows: credits are never overspent by
concurrent task creation, and a replayed Idempotency-Key grants nothing twice."""

from __future__ import annotations

import secrets
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from retouch.core.db import get_database
from tests.integration.task_support import new_upload, quota, task_count
from tests.security.conftest import Served, account, client_for, create_task, problem

pytestmark = [pytest.mark.integration, pytest.mark.security]

CUTOUT_COST = 4  # the seed's
RACERS = 10
GRANTED = 200


def _set_balance(owner: str, balance: int) -> None:
    with get_database().unit_of_work() as uow:
        uow.execute(
            "UPDATE quota_accounts q JOIN users u ON u.id = q.user_id SET q.balance = %s "
            "WHERE u.public_id = %s",
            (balance, owner),
        )
        uow.commit()


def test_concurrent_tasks_holding_credit_for_one_accept_exactly_one(served: Served) -> None:
    # GIVEN a user whose balance pays for exactly one cutout
    owner, headers = account()
    _set_balance(owner, CUTOUT_COST)

    # WHEN ten task requests (distinct keys) arrive at once
    def race(_: int) -> int:
        with client_for(served) as client:
            return create_task(client, headers, owner).status_code

    with ThreadPoolExecutor(RACERS) as pool:
        statuses = sorted(pool.map(race, range(RACERS)))

    # THEN exactly one is accepted, the rest are 402, and the balance never went below zero
    assert statuses == [202] + [402] * (RACERS - 1)
    assert quota(owner) == {"balance": 0, "reserved": CUTOUT_COST}
    assert task_count(owner) == 1


def test_a_replayed_task_key_answers_the_first_task_and_charges_once(http: httpx.Client) -> None:
    owner, headers = account()
    key = secrets.token_hex(8)
    body = {"feature": "cutout", "inputs": {"image": new_upload(owner)}}
    sent = {**headers, "Idempotency-Key": key}

    first = http.post("/v1/tasks", json=body, headers=sent)
    replay = http.post("/v1/tasks", json=body, headers=sent)
    other = http.post("/v1/tasks", json={**body, "feature": "eraser"}, headers=sent)

    assert first.status_code == replay.status_code == 202
    assert replay.json()["id"] == first.json()["id"]
    problem(other, 422, "IDEMPOTENCY_KEY_REUSED")
    assert quota(owner) == {"balance": 100 - CUTOUT_COST, "reserved": CUTOUT_COST}
    assert task_count(owner) == 1


def test_a_replayed_credit_grant_grants_once(http: httpx.Client) -> None:
    target, _ = account()
    _, admin = account("admin")
    sent = {**admin, "Idempotency-Key": secrets.token_hex(8)}
    body = {"amount": 50, "reason": "support ticket"}

    answers = [
        http.post(f"/v1/admin/users/{target}/credits", json=body, headers=sent) for _ in range(3)
    ]

    assert [answer.status_code for answer in answers] == [GRANTED] * 3
    assert len({answer.text for answer in answers}) == 1
    assert quota(target)["balance"] == 150
