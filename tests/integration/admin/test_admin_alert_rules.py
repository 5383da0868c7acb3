"""`GET`/`PUT /v1/admin/alerts/rules` against the real admin function and MariaDB: an admin's
edit becomes the next version the monitor reads, audited with what changed; an edit from a
version that is no longer in force (another admin's edit in between, or two at once) is
refused with ALERT_RULES_STALE and writes nothing; operators read but never write; every bad
rule is a 422 naming its field."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from retouch.alerts.monitor import current_rules
from retouch.core.db import get_database
from tests.conftest import Stack
from tests.integration.admin_support import admin_client
from tests.integration.identity_support import audit_rows, new_account

pytestmark = pytest.mark.integration

RULE: dict[str, Any] = {
    "key": "provider_failures",
    "kind": "task_failure_rate_provider",
    "summary_zh": "供应商失败率过高",
    "summary_en": "Provider failure rate high",
    "threshold": 0.5,
    "window_s": 900,
    "min_samples": 5,
    "cooldown_s": 1800,
    "severity": "critical",
}


@pytest.fixture
def client(stack: Stack) -> Any:
    with admin_client() as test_client:
        yield test_client


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    return body


def in_force(client: Any, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get("/v1/admin/alerts/rules", headers=headers)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_an_admin_edits_a_threshold_and_the_monitor_reads_it(client: Any) -> None:
    # GIVEN the rules in force, read by an operator
    actor, admin = new_account("admin")
    _, operator = new_account("operator")
    read = in_force(client, operator)
    rules = [{**RULE, "threshold": 0.5}, {**RULE, "key": "edited_now", "threshold": 0.3}]
    first = {"version": read["version"], "rules": rules}
    assert client.put("/v1/admin/alerts/rules", json=first, headers=admin).status_code == 200
    base = in_force(client, operator)

    # WHEN an admin raises one threshold from that version
    rules[1]["threshold"] = 0.75
    response = client.put(
        "/v1/admin/alerts/rules", json={"version": base["version"], "rules": rules}, headers=admin
    )

    # THEN it is the next version, read back by the API and by the monitor, and audited
    assert response.status_code == 200, response.text
    assert response.json()["version"] == base["version"] + 1
    again = in_force(client, operator)
    assert again["version"] == base["version"] + 1
    assert [rule["threshold"] for rule in again["rules"]] == [0.5, 0.75]
    version, rule_set = current_rules(get_database())
    assert version == again["version"]
    assert rule_set.by_key()["edited_now"].threshold == 0.75
    rows = audit_rows(str(version))
    assert [(r["action"], r["actor"]) for r in rows] == [("alerts.rules.update", actor["id"])]
    assert rows[0]["after_state"] == {
        "version": version,
        "added": [],
        "changed": ["edited_now"],
        "removed": [],
    }


def test_an_edit_from_an_old_version_is_refused_and_writes_nothing(client: Any) -> None:
    # GIVEN two admins who read the same version, and the first saved an edit
    _, first = new_account("admin")
    _, second = new_account("admin")
    read = in_force(client, first)
    saved = client.put(
        "/v1/admin/alerts/rules",
        json={"version": read["version"], "rules": [RULE]},
        headers=first,
    )
    assert saved.status_code == 200, saved.text

    # WHEN the second saves theirs from the version they read
    late = {**RULE, "threshold": 0.9}
    response = client.put(
        "/v1/admin/alerts/rules",
        json={"version": read["version"], "rules": [late]},
        headers=second,
    )

    # THEN it is refused, and the first admin's edit is still in force
    body = problem(response, 409, "ALERT_RULES_STALE")
    assert str(read["version"] + 1) in body["detail"]
    assert in_force(client, first)["rules"] == saved.json()["rules"]
    assert in_force(client, first)["version"] == read["version"] + 1


def test_two_edits_at_once_from_one_version_save_one(client: Any) -> None:
    _, admin = new_account("admin")
    version = in_force(client, admin)["version"]
    answers: list[int] = []

    def edit(threshold: float) -> None:
        body = {"version": version, "rules": [{**RULE, "threshold": threshold}]}
        with admin_client() as own:
            answers.append(own.put("/v1/admin/alerts/rules", json=body, headers=admin).status_code)

    threads = [threading.Thread(target=edit, args=(t,)) for t in (0.2, 0.3, 0.4, 0.6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(answers) == [200, 409, 409, 409]
    assert in_force(client, admin)["version"] == version + 1


def test_an_operator_reads_the_rules_but_may_not_edit_them(client: Any) -> None:
    _, operator = new_account("operator")
    _, user = new_account("user")
    read = in_force(client, operator)

    response = client.put(
        "/v1/admin/alerts/rules", json={"version": read["version"], "rules": []}, headers=operator
    )

    problem(response, 403, "FORBIDDEN")
    problem(client.get("/v1/admin/alerts/rules", headers=user), 403, "FORBIDDEN")
    problem(client.get("/v1/admin/alerts/rules"), 401, "UNAUTHENTICATED")
    assert in_force(client, operator)["version"] == read["version"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kind": "cpu_load"}, "body.rules.0.kind"),
        ({"threshold": 1.5}, "body.rules.0.threshold"),  # a rate above 100 %
        ({"threshold": -1}, "body.rules.0.threshold"),
        ({"channels": ["sms"]}, "body.rules.0.channels.0"),
        ({"channels": []}, "body.rules.0.channels"),
        ({"window_s": 5}, "body.rules.0.window_s"),
        ({"key": "Bad Key"}, "body.rules.0.key"),
        ({"webhook": "http://attacker.example/"}, "body.rules.0.webhook"),
    ],
)
def test_a_bad_rule_is_a_422_naming_its_field(client: Any, change: Any, field: str) -> None:
    _, admin = new_account("admin")
    read = in_force(client, admin)

    response = client.put(
        "/v1/admin/alerts/rules",
        json={"version": read["version"], "rules": [{**RULE, **change}]},
        headers=admin,
    )

    body = problem(response, 422, "VALIDATION_FAILED")
    assert field in [error["field"] for error in body["errors"]]
    assert in_force(client, admin)["version"] == read["version"]


@pytest.mark.parametrize(
    "body",
    [
        {"version": 1, "rules": [RULE, RULE]},  # the same key twice
        {"version": -1, "rules": [RULE]},
        {"rules": [RULE]},
        {"version": 1, "rules": [RULE], "by": 1},
        {"version": 1, "rules": [{**RULE, "kind": "db_down", "threshold": 2}]},
    ],
)
def test_a_bad_edit_is_a_422_and_writes_nothing(client: Any, body: Any) -> None:
    _, admin = new_account("admin")
    read = in_force(client, admin)

    response = client.put("/v1/admin/alerts/rules", json=body, headers=admin)

    problem(response, 422, "VALIDATION_FAILED")
    assert in_force(client, admin)["version"] == read["version"]
