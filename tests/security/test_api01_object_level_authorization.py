"""API1:2023 Broken Object Level Authorization: another user's task, upload or ledger page
is answered exactly like one that does not exist, and nothing of it changes."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.task_support import new_upload, quota
from tests.security.conftest import (
    account,
    create_task,
    problem,
    same_refusal,
    second_ledger_page,
)

pytestmark = [pytest.mark.integration, pytest.mark.security]

MISSING_TASK = "tsk_" + "0" * 22


def test_another_users_task_is_404_like_a_missing_one_for_read_cancel_and_delete(
    http: httpx.Client,
) -> None:
    # GIVEN Bea's task, and Al signed in
    bea, bea_headers = account()
    created = create_task(http, bea_headers, bea)
    assert created.status_code == 202, created.text
    task = created.json()["id"]
    _, al_headers = account()

    # WHEN Al reads, cancels and deletes it by id, and the same for an id that does not exist
    for method, suffix in (("GET", ""), ("POST", "/cancel"), ("DELETE", "")):
        theirs = http.request(method, f"/v1/tasks/{task}{suffix}", headers=al_headers)
        missing = http.request(method, f"/v1/tasks/{MISSING_TASK}{suffix}", headers=al_headers)

        # THEN both are the same 404
        problem(theirs, 404, "NOT_FOUND")
        same_refusal(theirs, missing)

    # AND Bea's task is untouched: still hers, still queued, its credits still reserved
    mine = http.get(f"/v1/tasks/{task}", headers=bea_headers)
    assert mine.status_code == 200 and mine.json()["status"] == "queued"
    assert quota(bea)["reserved"] == created.json()["cost"]
    assert task not in http.get("/v1/tasks", headers=al_headers).text


def test_another_users_upload_is_404_and_cannot_be_named_in_a_task(http: httpx.Client) -> None:
    bea, _ = account()
    upload = new_upload(bea)
    al, al_headers = account()

    theirs = http.get(f"/v1/uploads/{upload}", headers=al_headers)
    missing = http.get(f"/v1/uploads/upl_{'0' * 22}", headers=al_headers)
    task = http.post(
        "/v1/tasks",
        json={"feature": "cutout", "inputs": {"image": upload}},
        headers={**al_headers, "Idempotency-Key": "bola-upload"},
    )

    problem(theirs, 404, "NOT_FOUND")
    same_refusal(theirs, missing)
    problem(task, 422, "VALIDATION_FAILED")
    assert quota(al)["reserved"] == 0


def test_another_users_ledger_cursor_is_refused_like_a_forged_one(http: httpx.Client) -> None:
    # GIVEN Bea's ledger has a second page
    bea, bea_headers = account()
    cursor = second_ledger_page(http, bea_headers, bea)
    _, al_headers = account()

    # WHEN Al presents Bea's cursor, and a made-up one
    theirs = http.get("/v1/me/quota/ledger", params={"cursor": cursor}, headers=al_headers)
    forged = http.get(
        "/v1/me/quota/ledger", params={"cursor": "AAAA" + cursor[4:]}, headers=al_headers
    )

    # THEN both are the same 422 on query.cursor, and nothing of Bea's is shown
    body = problem(theirs, 422, "VALIDATION_FAILED")
    same_refusal(theirs, forged)
    assert [error["field"] for error in body["errors"]] == ["query.cursor"]
