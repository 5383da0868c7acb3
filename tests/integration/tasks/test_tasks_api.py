"""The tasks API against real MariaDB and Redis: create (form, uploads, credits, outbox,
idempotency), read (ETag), list (keyset, signed cursor), cancel, delete, events."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from starlette.testclient import TestClient

from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.core.time import utc_now
from retouch.idempotency import IdempotencyKey, IdempotencyRepository, KeyClaim, request_hash
from retouch.notify import publish_task_event
from retouch.tasks.schemas import TaskCreate
from retouch.tasks.service import CREATE_OPERATION
from tests.conftest import LogLines, Stack, load_event
from tests.integration.catalog_api_support import fresh_feature
from tests.integration.identity_support import new_account
from tests.integration.quota_support import assert_ledger_matches
from tests.integration.task_support import (
    QUEUE,
    finish,
    inputs_for,
    new_upload,
    outbox_rows,
    queued_task_ids,
    quota,
    task_count,
    tasks_app,
    user_internal_id,
    when_stream_listens,
)

pytestmark = pytest.mark.integration

FEATURES = ["cutout", "eraser", "outfit", "faceswap", "outpaint"]
TASK_KEYS = {
    "id",
    "feature",
    "status",
    "inputs",
    "output",
    "error",
    "cost",
    "created_at",
    "started_at",
    "finished_at",
}


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(tasks_app()) as test_client:
        yield test_client


def create(
    client: TestClient, headers: dict[str, str], body: dict[str, Any], key: str | None = None
) -> Any:
    extra = {"Idempotency-Key": key} if key else {}
    return client.post("/v1/tasks", json=body, headers={**headers, **extra})


def hold_key(owner: str, key: str, body: dict[str, Any], *, since: datetime) -> None:
    """A claim on `key` by a request that started at `since` and has not finished."""
    with get_database().unit_of_work() as uow:
        assert uow.repository(IdempotencyRepository).insert(
            KeyClaim(
                key=IdempotencyKey(
                    user_id=user_internal_id(owner), operation=CREATE_OPERATION, value=key
                ),
                request_hash=request_hash(TaskCreate.model_validate(body).model_dump(mode="json")),
                token="f" * 32,
                now=since,
                lease_until=since + timedelta(seconds=60),
                expires_at=since + timedelta(days=1),
            )
        )
        uow.commit()


# --- create ---------------------------------------------------------------------------------


@pytest.mark.parametrize("feature", FEATURES)
def test_a_task_of_each_feature_is_queued_with_credits_reserved_and_its_step_published(
    client: TestClient, feature: str
) -> None:
    # GIVEN a user with ready uploads
    user, headers = new_account()
    before = quota(user["id"])

    # WHEN they create a task
    response = create(
        client, headers, {"feature": feature, "inputs": inputs_for(feature, user["id"])}
    )

    # THEN it is queued, its cost is reserved, and its first step message is on the queue
    assert response.status_code == 202, response.text
    task = response.json()
    assert set(task) == TASK_KEYS
    assert (task["feature"], task["status"], task["output"], task["error"]) == (
        feature,
        "queued",
        None,
        None,
    )
    assert task["id"].startswith("tsk_")
    after = quota(user["id"])
    assert after == {
        "balance": before["balance"] - task["cost"],
        "reserved": before["reserved"] + task["cost"],
    }
    rows = outbox_rows(task["id"])
    assert len(rows) == 1 and rows[0]["queue_name"] == QUEUE
    assert rows[0]["published_at"] is not None
    assert json.loads(rows[0]["body"]) == {"task_id": task["id"], "step": "prepare", "attempt": 1}
    assert task["id"] in queued_task_ids()
    assert_ledger_matches(get_database(), user_internal_id(user["id"]))


@pytest.mark.parametrize(
    ("inputs", "fields"),
    [
        ({}, {"body.inputs.image"}),
        ({"image": "not-an-upload"}, {"body.inputs.image"}),
        ({"image": "upl_" + "a" * 22, "surprise": 1}, {"body.inputs.surprise"}),
        ({"image": "upl_" + "a" * 22, "refine_edges": "yes"}, {"body.inputs.refine_edges"}),
    ],
    ids=["missing", "malformed", "unknown-field", "wrong-type"],
)
def test_inputs_breaking_the_form_are_422_per_field_and_reserve_nothing(
    client: TestClient, inputs: dict[str, Any], fields: set[str]
) -> None:
    user, headers = new_account()
    before = quota(user["id"])

    response = create(client, headers, {"feature": "cutout", "inputs": inputs})

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "VALIDATION_FAILED"
    assert {error["field"] for error in problem["errors"]} == fields
    assert quota(user["id"]) == before
    assert task_count(user["id"]) == 0


@pytest.mark.parametrize("case", ["other-users", "pending", "rejected", "unknown"])
def test_an_upload_that_is_not_a_ready_upload_of_the_caller_is_refused(
    client: TestClient, case: str
) -> None:
    # GIVEN Alice, and an upload that is Bob's, or hers but not ready, or no upload at all
    alice, headers = new_account()
    bob, _ = new_account()
    upload = {
        "other-users": lambda: new_upload(bob["id"]),
        "pending": lambda: new_upload(alice["id"], status="pending"),
        "rejected": lambda: new_upload(alice["id"], status="rejected"),
        "unknown": lambda: "upl_" + "Z" * 22,
    }[case]()
    before = quota(alice["id"])

    # WHEN she names it in a task
    response = create(client, headers, {"feature": "cutout", "inputs": {"image": upload}})

    # THEN 422 on that field, the same answer in every case, and nothing is reserved
    assert response.status_code == 422
    problem = response.json()
    assert problem["errors"] == [
        {"field": "body.inputs.image", "code": "upload_unusable", "message": "不是你的已就绪上传"}
    ]
    assert quota(alice["id"]) == before
    assert task_count(alice["id"]) == 0


def test_an_unknown_feature_is_422_and_a_disabled_one_is_409_feature_unavailable(
    client: TestClient,
) -> None:
    user, headers = new_account()
    disabled = fresh_feature(enabled=False)
    inputs = {"image": new_upload(user["id"])}

    unknown = create(client, headers, {"feature": "nosuchfeature", "inputs": inputs})
    off = create(client, headers, {"feature": disabled, "inputs": inputs})

    assert (unknown.status_code, unknown.json()["code"]) == (422, "VALIDATION_FAILED")
    assert unknown.json()["errors"][0]["field"] == "body.feature"
    assert (off.status_code, off.json()["code"]) == (409, "FEATURE_UNAVAILABLE")
    assert task_count(user["id"]) == 0


def test_not_enough_credits_is_402_and_creates_nothing(client: TestClient) -> None:
    # GIVEN a feature costing more than a new account holds
    user, headers = new_account()
    expensive = fresh_feature(cost=quota(user["id"])["balance"] + 1)

    response = create(
        client, headers, {"feature": expensive, "inputs": {"image": new_upload(user["id"])}}
    )

    assert (response.status_code, response.json()["code"]) == (402, "QUOTA_EXCEEDED")
    assert task_count(user["id"]) == 0
    assert quota(user["id"])["reserved"] == 0


def test_tasks_need_a_signed_in_user(client: TestClient) -> None:
    assert client.post("/v1/tasks", json={"feature": "cutout", "inputs": {}}).status_code == 401
    assert client.get("/v1/tasks").status_code == 401


# --- idempotency ----------------------------------------------------------------------------


def test_the_same_key_and_body_twice_answer_the_first_response_with_one_reservation(
    client: TestClient,
) -> None:
    user, headers = new_account()
    body = {"feature": "cutout", "inputs": inputs_for("cutout", user["id"])}
    before = quota(user["id"])

    first = create(client, headers, body, key="retry-me-1")
    second = create(client, headers, body, key="retry-me-1")

    assert (first.status_code, second.status_code) == (202, 202)
    assert second.json() == first.json()
    assert task_count(user["id"]) == 1
    assert quota(user["id"])["balance"] == before["balance"] - first.json()["cost"]


def test_the_same_key_sent_concurrently_creates_one_task(client: TestClient) -> None:
    # GIVEN eight clients sending the same key and body at once
    user, headers = new_account()
    body = {"feature": "cutout", "inputs": inputs_for("cutout", user["id"])}
    before = quota(user["id"])
    barrier = threading.Barrier(8)
    answers: list[Any] = []

    def send() -> None:
        with TestClient(tasks_app()) as own:
            barrier.wait()
            answers.append(create(own, headers, body, key="burst"))

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # THEN each answer is the task or "in use"; one task, one reservation
    assert {answer.status_code for answer in answers} <= {202, 409}
    created = {answer.json()["id"] for answer in answers if answer.status_code == 202}
    assert len(created) == 1
    in_use = [answer.json()["code"] for answer in answers if answer.status_code == 409]
    assert set(in_use) <= {"IDEMPOTENCY_KEY_IN_USE"}
    assert task_count(user["id"]) == 1
    cost = next(answer.json()["cost"] for answer in answers if answer.status_code == 202)
    assert quota(user["id"])["balance"] == before["balance"] - cost


def test_the_key_while_its_first_request_runs_is_409_in_use(client: TestClient) -> None:
    # GIVEN a first request that has claimed the key and is still running
    user, headers = new_account()
    body = {"feature": "cutout", "inputs": inputs_for("cutout", user["id"])}
    hold_key(user["id"], "slow", body, since=utc_now())

    response = create(client, headers, body, key="slow")

    assert (response.status_code, response.json()["code"]) == (409, "IDEMPOTENCY_KEY_IN_USE")
    assert task_count(user["id"]) == 0


def test_a_key_whose_request_died_is_taken_over_after_its_lease(client: TestClient) -> None:
    user, headers = new_account()
    body = {"feature": "cutout", "inputs": inputs_for("cutout", user["id"])}
    hold_key(user["id"], "crashed", body, since=utc_now() - timedelta(minutes=5))

    response = create(client, headers, body, key="crashed")

    assert response.status_code == 202, response.text
    assert task_count(user["id"]) == 1


def test_the_same_key_with_another_body_is_422_reused(client: TestClient) -> None:
    user, headers = new_account()
    first = create(
        client, headers, {"feature": "cutout", "inputs": inputs_for("cutout", user["id"])}, "k1"
    )
    other = create(
        client, headers, {"feature": "cutout", "inputs": inputs_for("cutout", user["id"])}, "k1"
    )

    assert first.status_code == 202
    assert (other.status_code, other.json()["code"]) == (422, "IDEMPOTENCY_KEY_REUSED")
    assert task_count(user["id"]) == 1


def test_keys_are_per_user(client: TestClient) -> None:
    alice, alice_headers = new_account()
    bob, bob_headers = new_account()

    a = create(
        client,
        alice_headers,
        {"feature": "cutout", "inputs": inputs_for("cutout", alice["id"])},
        "same",
    )
    b = create(
        client,
        bob_headers,
        {"feature": "cutout", "inputs": inputs_for("cutout", bob["id"])},
        "same",
    )

    assert (a.status_code, b.status_code) == (202, 202)
    assert a.json()["id"] != b.json()["id"]


def test_a_failed_request_frees_its_key_for_a_corrected_retry(client: TestClient) -> None:
    user, headers = new_account()
    pending = new_upload(user["id"], status="pending")
    body = {"feature": "cutout", "inputs": {"image": pending}}

    refused = create(client, headers, body, key="fix-and-retry")
    with get_database().unit_of_work() as uow:
        uow.execute("UPDATE uploads SET status = 'ready' WHERE public_id = %s", (pending,))
        uow.commit()
    retried = create(client, headers, body, key="fix-and-retry")

    assert (refused.status_code, retried.status_code) == (422, 202)


def test_a_malformed_idempotency_key_is_422(client: TestClient) -> None:
    user, headers = new_account()
    body = {"feature": "cutout", "inputs": inputs_for("cutout", user["id"])}

    response = create(client, headers, body, key="has spaces in it")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "header.idempotency-key"


# --- read -----------------------------------------------------------------------------------


def new_task(client: TestClient, owner: dict[str, Any], headers: dict[str, str]) -> str:
    response = create(
        client, headers, {"feature": "cutout", "inputs": inputs_for("cutout", owner["id"])}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def test_a_task_reads_with_an_etag_and_304_while_unchanged(client: TestClient) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)

    first = client.get(f"/v1/tasks/{task_id}", headers=headers)
    cached = client.get(
        f"/v1/tasks/{task_id}", headers={**headers, "If-None-Match": first.headers["ETag"]}
    )
    finish(task_id, "failed")
    changed = client.get(
        f"/v1/tasks/{task_id}", headers={**headers, "If-None-Match": first.headers["ETag"]}
    )

    assert first.status_code == 200 and set(first.json()) == TASK_KEYS
    assert cached.status_code == 304 and cached.content == b""
    assert changed.status_code == 200 and changed.json()["status"] == "failed"
    assert changed.headers["ETag"] != first.headers["ETag"]


def test_output_images_are_short_lived_urls_of_our_storage(client: TestClient) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)
    finish(task_id, "succeeded", output_keys=(f"outputs/{user['id']}/{task_id}/0.png",))

    task = client.get(f"/v1/tasks/{task_id}", headers=headers).json()

    (image,) = task["output"]["images"]
    assert image["url"].startswith("http://127.0.0.1:8000/_storage/outputs/")
    assert "expires=" in image["url"] or "signature" in image["url"].lower()
    assert (image["width"], image["height"]) == (4, 3)


@pytest.mark.parametrize("path", ["", "/cancel", "/events"])
def test_another_users_task_is_404_on_every_route(client: TestClient, path: str) -> None:
    alice, alice_headers = new_account()
    _, bob_headers = new_account()
    task_id = new_task(client, alice, alice_headers)

    if path == "/cancel":
        response = client.post(f"/v1/tasks/{task_id}/cancel", headers=bob_headers)
    else:
        response = client.get(f"/v1/tasks/{task_id}{path}", headers=bob_headers)
    deleted = client.delete(f"/v1/tasks/{task_id}", headers=bob_headers)

    assert (response.status_code, response.json()["code"]) == (404, "NOT_FOUND")
    assert deleted.status_code == 404
    assert alice["id"] not in response.text
    assert client.get(f"/v1/tasks/{task_id}", headers=alice_headers).json()["status"] == "queued"


@pytest.mark.parametrize("task_id", ["tsk_short", "1", "tsk_" + "x" * 60, "usr_" + "a" * 22])
def test_a_malformed_task_id_is_404(client: TestClient, task_id: str) -> None:
    _, headers = new_account()

    assert client.get(f"/v1/tasks/{task_id}", headers=headers).status_code in (404, 422)


# --- list -----------------------------------------------------------------------------------


def test_the_list_pages_newest_first_with_a_signed_cursor_and_filters(
    client: TestClient,
) -> None:
    # GIVEN five tasks, two of them failed
    user, headers = new_account()
    ids = [new_task(client, user, headers) for _ in range(5)]
    finish(ids[1], "failed")
    finish(ids[3], "failed")

    # WHEN the user lists two at a time
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/tasks", params=params, headers=headers).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    failed = client.get("/v1/tasks", params={"status": "failed"}, headers=headers).json()
    by_feature = client.get("/v1/tasks", params={"feature": "eraser"}, headers=headers).json()

    # THEN every task once, newest first; filters select
    assert seen == list(reversed(ids))
    assert [item["id"] for item in failed["items"]] == [ids[3], ids[1]]
    assert by_feature["items"] == []


@pytest.mark.parametrize("tamper", ["edit", "garbage", "other-user", "other-filter"])
def test_a_tampered_or_foreign_cursor_is_422(client: TestClient, tamper: str) -> None:
    user, headers = new_account()
    other, other_headers = new_account()
    for owner, owner_headers in ((user, headers), (other, other_headers)):
        for _ in range(2):
            new_task(client, owner, owner_headers)
    cursor = client.get("/v1/tasks", params={"limit": 1}, headers=headers).json()["next_cursor"]
    payload, tag = cursor.split(".")
    params: dict[str, Any] = {"cursor": cursor}
    use_headers = headers
    if tamper == "edit":
        params["cursor"] = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + tag
    elif tamper == "garbage":
        params["cursor"] = "!!not-a-cursor!!"
    elif tamper == "other-user":
        use_headers = other_headers
    else:
        params["status"] = "queued"

    response = client.get("/v1/tasks", params=params, headers=use_headers)

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.cursor"


def test_a_limit_above_100_is_422(client: TestClient) -> None:
    _, headers = new_account()

    response = client.get("/v1/tasks", params={"limit": 101}, headers=headers)

    assert response.status_code == 422


# --- cancel and delete ------------------------------------------------------------------------


def test_cancel_returns_the_credits_once_and_a_second_cancel_changes_nothing(
    client: TestClient,
) -> None:
    user, headers = new_account()
    before = quota(user["id"])
    task_id = new_task(client, user, headers)

    first = client.post(f"/v1/tasks/{task_id}/cancel", headers=headers)
    again = client.post(f"/v1/tasks/{task_id}/cancel", headers=headers)

    assert first.status_code == 200 and first.json()["status"] == "canceled"
    assert first.json()["finished_at"] is not None
    assert again.status_code == 200 and again.json()["status"] == "canceled"
    assert quota(user["id"]) == before
    assert_ledger_matches(get_database(), user_internal_id(user["id"]))


@pytest.mark.parametrize("status", ["succeeded", "failed"])
def test_a_finished_task_is_not_cancelable(client: TestClient, status: str) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)
    finish(task_id, status)

    response = client.post(f"/v1/tasks/{task_id}/cancel", headers=headers)

    assert (response.status_code, response.json()["code"]) == (409, "TASK_NOT_CANCELABLE")


def test_delete_hides_the_task_deletes_its_images_and_refunds_an_unfinished_one(
    client: TestClient, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retouch.bootstrap.clients import reset_clients
    from retouch.storage import get_storage

    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(tmp_path / "objects"))
    reset_clients()
    user, headers = new_account()
    before = quota(user["id"])
    done = new_task(client, user, headers)
    running = new_task(client, user, headers)
    key = f"outputs/{user['id']}/{done}/0.png"
    get_storage().put(key, b"\x89PNG", "image/png")
    finish(done, "succeeded", output_keys=(key,))

    deleted = [
        client.delete(f"/v1/tasks/{task_id}", headers=headers) for task_id in (done, running)
    ]

    assert [response.status_code for response in deleted] == [204, 204]
    assert get_storage().head(key) is None
    assert client.get(f"/v1/tasks/{done}", headers=headers).status_code == 404
    assert client.get("/v1/tasks", headers=headers).json()["items"] == []
    # the succeeded task's cost stays spent; the unfinished one's came back
    cost = 4
    assert quota(user["id"]) == {
        "balance": before["balance"] - cost,
        "reserved": before["reserved"] + cost,
    }


# --- events ---------------------------------------------------------------------------------


def test_events_stream_the_task_then_its_status_changes_until_it_finishes(
    client: TestClient,
) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)

    def cancel() -> None:
        # published while the stream listens: the stream re-reads and sends the task
        with TestClient(tasks_app()) as own:
            own.post(f"/v1/tasks/{task_id}/cancel", headers=headers)

    canceler = when_stream_listens(task_id, cancel)
    with client.stream("GET", f"/v1/tasks/{task_id}/events", headers=headers) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        text = "".join(response.iter_text())
    canceler.join()

    events = [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: ")]
    assert text.startswith("retry: ")
    assert [event["status"] for event in events] == ["queued", "canceled"]
    assert all(event["id"] == task_id for event in events)


def test_where_the_runtime_cannot_stream_events_are_one_event_and_a_retry(
    stack: Stack, lambda_context: Any
) -> None:
    user, headers = new_account()
    with TestClient(tasks_app()) as client:
        task_id = new_task(client, user, headers)
    publish_task_event(get_redis(), task_id, {"id": task_id, "status": "queued"})
    event = load_event("tasks_aws_rest.json")
    event["path"] = event["resource"] = f"/v1/tasks/{task_id}/events"
    event["queryStringParameters"] = event["multiValueQueryStringParameters"] = None
    event["headers"]["Authorization"] = headers["Authorization"]
    event["multiValueHeaders"]["Authorization"] = [headers["Authorization"]]

    from tests.conftest import load_function

    result = load_function("functions/http/tasks/app.py").handler(event, lambda_context)

    assert result["statusCode"] == 200
    body = result["body"]
    assert body.startswith("retry: 3000")
    assert body.count("event: task") == 1
    assert json.loads(body.split("data: ", 1)[1].split("\n", 1)[0])["id"] == task_id


def test_a_create_names_its_task_and_feature_on_its_access_line(
    client: TestClient, log_lines: LogLines
) -> None:
    user, headers = new_account()

    response = create(
        client, headers, {"feature": "cutout", "inputs": inputs_for("cutout", user["id"])}
    )

    # THEN the one line of the request (no line of its own) says which task it made
    assert response.status_code == 202, response.text
    (line,) = [row for row in log_lines.with_message("request") if row["method"] == "POST"]
    assert (line["task"], line["feature"], line["user_id"]) == (
        response.json()["id"],
        "cutout",
        user["id"],
    )
    assert not log_lines.with_message("task created")
