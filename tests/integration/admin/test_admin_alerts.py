"""`GET /v1/admin/alerts` against the real admin function and MariaDB: the monitor's states,
firing first and newest first, filtered by status, and a bad query answered with a problem."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest

from retouch.alerts.repository import MySQLAlertRepository
from retouch.alerts.state import AlertState, fingerprint
from retouch.core.db import get_database
from retouch.core.time import utc_now
from tests.conftest import Stack
from tests.integration.admin_support import admin_client
from tests.integration.identity_support import new_account

pytestmark = pytest.mark.integration


@pytest.fixture
def client(stack: Stack) -> Any:
    with admin_client() as test_client:
        yield test_client


def stored(rule: str, status: str, minutes_ago: int) -> tuple[str, str]:
    """A state stored the way the monitor stores one, for a subject of this test's own."""
    since = utc_now() - timedelta(minutes=minutes_ago)
    subject = f"s-{secrets.token_hex(4)}"
    state = AlertState(
        rule_key=rule,
        subject=subject,
        status=status,  # type: ignore[arg-type]
        since=since,
        value=0.5,
        fingerprint=fingerprint(rule, subject, since),
    )
    with get_database().unit_of_work() as uow:
        assert MySQLAlertRepository(uow).save_state(state)
        uow.commit()
    return rule, subject


def test_firing_alerts_come_first_then_the_latest_change(client: Any) -> None:
    # GIVEN an old firing alert, a newer one and a resolved one newer still
    old = stored("provider_failures", "firing", 30)
    new = stored("feature_failures", "firing", 10)
    ok = stored("http_p95", "ok", 1)
    _, operator = new_account("operator")

    response = client.get("/v1/admin/alerts", headers=operator)
    firing = client.get("/v1/admin/alerts?status=firing", headers=operator).json()["items"]

    assert response.status_code == 200, response.text
    order = [(item["rule"], item["subject"]) for item in response.json()["items"]]
    assert order.index(new) < order.index(old) < order.index(ok)
    assert all(item["status"] == "firing" for item in firing)
    assert {old, new} <= {(item["rule"], item["subject"]) for item in firing}


@pytest.mark.parametrize("query", ["status=bad", "limit=0", "limit=101", "unknown=1"])
def test_a_bad_query_is_a_validation_problem(client: Any, query: str) -> None:
    _, operator = new_account("operator")

    response = client.get(f"/v1/admin/alerts?{query}", headers=operator)

    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "VALIDATION_FAILED"
