"""The issue's other probes, over HTTP: a catastrophic form pattern is refused at write time
(ReDoS), admin bodies coerce no type, and the ledger cursor carries no readable row id.
(Error amplification — at most 50 field errors — is API4's.)"""

from __future__ import annotations

import base64
import copy

import httpx
import pytest

from retouch.core.db import get_database
from tests.catalog_support import seed_feature
from tests.integration.catalog_api_support import fresh_feature
from tests.integration.identity_support import audit_rows, internal_id
from tests.integration.task_support import quota
from tests.security.conftest import account, problem, second_ledger_page

pytestmark = [pytest.mark.integration, pytest.mark.security]


def test_a_catastrophic_form_pattern_is_refused_and_nothing_stored(http: httpx.Client) -> None:
    key = fresh_feature()
    _, operator = account("operator")
    form = copy.deepcopy(seed_feature("cutout").form)
    form["properties"]["code"] = {"type": "string", "pattern": "^(a|a)*$", "maxLength": 64}

    response = http.post(
        f"/v1/admin/features/{key}/forms",
        json={"json_schema": form, "make_current": True},
        headers=operator,
    )

    body = problem(response, 422, "VALIDATION_FAILED")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [
        ("body.json_schema.properties.code.pattern", "pattern_backtracking")
    ]
    assert audit_rows(key) == []


@pytest.mark.parametrize("amount", [True, "5", 1e6, 5.0])
def test_an_admin_grant_coerces_no_type(http: httpx.Client, amount: object) -> None:
    target, _ = account()
    _, admin = account("admin")

    response = http.post(
        f"/v1/admin/users/{target}/credits",
        json={"amount": amount, "reason": "probe"},
        headers=admin,
    )

    body = problem(response, 422, "VALIDATION_FAILED")
    assert [error["field"] for error in body["errors"]] == ["body.amount"]
    assert quota(target)["balance"] == 100


def test_the_ledger_cursor_is_sealed_and_an_edited_one_is_422(http: httpx.Client) -> None:
    # GIVEN a ledger with a second page
    owner, headers = account()
    cursor = second_ledger_page(http, headers, owner)
    with get_database().read_only() as uow:
        rows = uow.fetch_all(
            "SELECT id FROM quota_ledger WHERE user_id = %s", (internal_id(owner),)
        )
    ids = [str(row["id"]) for row in rows]

    # THEN no ledger id can be read from the cursor (an unsealed one is base64 of `[id]`)
    # (a sealed cursor is `<sealed>.<tag>`, each part unpadded url-safe base64)
    decoded = b"".join(
        base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in cursor.split(".")
    )
    assert not [i for i in ids if f"[{i}]".encode() in decoded or f"{i}]".encode() in decoded]
    # AND a cursor edited by one character is refused, never a silently restarted list
    edited = cursor[:-2] + ("A" if cursor[-2] != "A" else "B") + cursor[-1]
    response = http.get("/v1/me/quota/ledger", params={"cursor": edited}, headers=headers)
    problem(response, 422, "VALIDATION_FAILED")
    assert (
        http.get("/v1/me/quota/ledger", params={"cursor": cursor}, headers=headers).status_code
        == 200
    )
