"""The admin routes against the real admin function, MariaDB and Redis: who may call each,
the metrics read from the rollups, any user's task with its steps, keyset pages, the dead
letters and their redrive (re-delivered, audited, idempotent), cache invalidation (audited),
and every bad input answered with a problem+json code."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

import pytest

from retouch.bootstrap.clients import reset_clients
from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.core.time import utc_now
from retouch.rollups import recompute_recent
from tests.conftest import Stack
from tests.integration.admin_support import admin_client, dead_letter, empty_queue
from tests.integration.identity_support import audit_rows, internal_id, new_account
from tests.integration.queue_support import new_queue
from tests.integration.rollup_support import add_task

pytestmark = pytest.mark.integration

ROUTES = [
    ("GET", "/v1/admin/metrics/overview", None),
    ("GET", "/v1/admin/metrics/series?metric=tasks_created", None),
    ("GET", "/v1/admin/metrics/routes", None),
    ("GET", "/v1/admin/tasks", None),
    ("GET", "/v1/admin/tasks/tsk_AAAAAAAAAAAAAAAAAAAAAA", None),
    ("GET", "/v1/admin/dead-letters", None),
    ("POST", "/v1/admin/dead-letters/steps-store/redrive", {}),
    ("POST", "/v1/admin/cache/invalidate", {"namespace": "catalog"}),
    ("GET", "/v1/admin/alerts", None),
]
QUEUE = "steps-finalize"


@pytest.fixture
def client(stack: Stack) -> Any:
    with admin_client() as test_client:
        yield test_client


def call(client: Any, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.request(method, path, json=body, headers=headers)


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_admin_route_refuses_anonymous_callers_and_plain_users(
    client: Any, method: str, path: str, body: Any
) -> None:
    problem(call(client, method, path, body, {}), 401, "UNAUTHENTICATED")
    _, user = new_account("user")
    problem(call(client, method, path, body, user), 403, "FORBIDDEN")


def test_an_operator_may_not_redrive_dead_letters(client: Any) -> None:
    _, operator = new_account("operator")
    response = client.post(f"/v1/admin/dead-letters/{QUEUE}/redrive", json={}, headers=operator)
    problem(response, 403, "FORBIDDEN")


def test_the_overview_and_series_read_the_rollups_of_the_window(client: Any) -> None:
    # GIVEN a task that succeeded through a provider of this test's own, rolled up
    provider, now = f"p-{secrets.token_hex(4)}", utc_now()
    owner, _ = new_account("user")
    add_task(
        get_database(),
        user_id=internal_id(owner["id"]),
        feature="cutout",
        status="succeeded",
        created_at=now - timedelta(seconds=3),
        finished_at=now,
        provider=provider,
        fallbacks=1,
    )
    recompute_recent(database=get_database())
    _, operator = new_account("operator")

    # WHEN an operator reads the overview and that provider's series
    overview = client.get("/v1/admin/metrics/overview?window=1h", headers=operator)
    series = client.get(
        "/v1/admin/metrics/series",
        params={"metric": "tasks_succeeded", "window": "24h", "provider": provider},
        headers=operator,
    )

    # THEN the provider's row and the hourly series hold the task
    assert overview.status_code == 200, overview.text
    body = overview.json()
    assert body["window"] == "1h"
    mine = [row for row in body["by_provider"] if row["provider"] == provider]
    assert mine == [
        {
            "provider": provider,
            "succeeded": 1,
            "failed": 0,
            "canceled": 0,
            "success_rate": 1.0,
            "fallbacks": 1,
            "duration_ms_avg": 3000,
        }
    ]
    assert body["tasks"]["succeeded"] >= 1 and body["active_users"]["hour"] >= 1
    assert series.status_code == 200, series.text
    points = series.json()["points"]
    assert len(points) == 24 and points[-1]["value"] == 1
    assert sum(point["value"] for point in points) == 1


@pytest.mark.parametrize(
    "query",
    [
        "/v1/admin/metrics/overview?window=2h",
        "/v1/admin/metrics/overview?bogus=1",
        "/v1/admin/metrics/series?metric=tasks_created&window=30d",
        "/v1/admin/metrics/series?metric=sum(tasks)",
        "/v1/admin/metrics/series",
        "/v1/admin/metrics/series?metric=tasks_created&provider=DROP%20TABLE",
        "/v1/admin/tasks?status=lost",
        "/v1/admin/tasks?user_id=someone",
        "/v1/admin/tasks?limit=0",
        "/v1/admin/tasks?cursor=not-a-cursor",
        "/v1/admin/tasks?offset=10",
    ],
)
def test_a_bad_query_is_a_422_naming_the_field(client: Any, query: str) -> None:
    _, operator = new_account("operator")
    body = problem(client.get(query, headers=operator), 422, "VALIDATION_FAILED")
    assert body["errors"]


def test_an_operator_reads_any_users_task_with_its_steps_and_provider_attempts(
    client: Any,
) -> None:
    owner, _ = new_account("user")
    task = add_task(
        get_database(),
        user_id=internal_id(owner["id"]),
        feature="eraser",
        status="failed",
        created_at=utc_now() - timedelta(seconds=5),
        finished_at=utc_now(),
        provider="beta",
        fallbacks=2,
    )
    _, operator = new_account("operator")

    response = client.get(f"/v1/admin/tasks/{task}", headers=operator)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["user_id"], body["feature"], body["status"]) == (
        task,
        owner["id"],
        "eraser",
        "failed",
    )
    [step] = body["steps"]
    assert (step["step"], step["provider"], len(step["fallbacks"])) == ("generate", "beta", 2)
    missing = "tsk_" + "B" * 22
    problem(client.get(f"/v1/admin/tasks/{missing}", headers=operator), 404, "NOT_FOUND")
    problem(client.get("/v1/admin/tasks/../users", headers=operator), 404, "NOT_FOUND")


def _pages(client: Any, headers: dict[str, str], **query: Any) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        params = {**query, **({"cursor": cursor} if cursor else {})}
        response = client.get("/v1/admin/tasks", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None or len(pages) > 10:
            return pages


def test_a_users_tasks_come_newest_first_in_keyset_pages(client: Any) -> None:
    owner, _ = new_account("user")
    now = utc_now()
    made = [
        add_task(
            get_database(),
            user_id=internal_id(owner["id"]),
            feature="cutout",
            status="succeeded",
            created_at=now - timedelta(minutes=minutes),
            finished_at=now,
            provider="alpha",
        )
        for minutes in (3, 2, 1)
    ]
    _, operator = new_account("operator")

    pages = _pages(client, operator, user_id=owner["id"], limit=2)

    assert pages == [[made[2], made[1]], [made[0]]]
    assert _pages(client, operator, user_id=owner["id"], status="failed") == [[]]
    nobody = "usr_" + "Z" * 22
    problem(client.get(f"/v1/admin/tasks?user_id={nobody}", headers=operator), 404, "NOT_FOUND")


def test_everyones_newest_tasks_by_status_and_a_cursor_bound_to_its_filters(
    client: Any,
) -> None:
    owner, _ = new_account("user")
    made = [
        add_task(
            get_database(),
            user_id=internal_id(owner["id"]),
            feature="outfit",
            status="canceled",
            created_at=utc_now(),
            finished_at=utc_now(),
            provider=None,
        )
        for _ in range(3)
    ]
    _, operator = new_account("operator")

    first = client.get("/v1/admin/tasks?status=canceled&limit=2", headers=operator).json()
    assert [item["id"] for item in first["items"]] == [made[2], made[1]]
    second = client.get(
        "/v1/admin/tasks",
        params={"status": "canceled", "limit": 2, "cursor": first["next_cursor"]},
        headers=operator,
    ).json()
    assert second["items"][0]["id"] == made[0]
    # the same cursor with another filter, or edited, is refused
    other = {"status": "failed", "cursor": first["next_cursor"]}
    problem(client.get("/v1/admin/tasks", params=other, headers=operator), 422, "VALIDATION_FAILED")
    edited = {"status": "canceled", "cursor": first["next_cursor"][:-2] + "AA"}
    problem(
        client.get("/v1/admin/tasks", params=edited, headers=operator), 422, "VALIDATION_FAILED"
    )


def test_a_redriven_dead_letter_is_delivered_again_and_the_redrive_is_audited_once(
    client: Any,
) -> None:
    # GIVEN a message that died on the finalize queue
    empty_queue(QUEUE)
    message_id = dead_letter(QUEUE, {"task_id": "tsk_dead", "step": "finalize"})
    actor, admin = new_account("admin")
    listed = client.get("/v1/admin/dead-letters", headers=admin)
    assert listed.status_code == 200, listed.text
    [finalize] = [q for q in listed.json()["queues"] if q["queue"] == QUEUE]
    assert (finalize["count"], finalize["count_is_lower_bound"]) == (1, False)
    assert finalize["samples"][0]["id"] == message_id
    assert finalize["samples"][0]["body"] == {"task_id": "tsk_dead", "step": "finalize"}

    # WHEN an admin redrives it, twice with one Idempotency-Key
    key = {**admin, "Idempotency-Key": secrets.token_hex(8)}
    path = f"/v1/admin/dead-letters/{QUEUE}/redrive"
    first = client.post(path, json={"message_ids": [message_id]}, headers=key)
    again = client.post(path, json={"message_ids": [message_id]}, headers=key)

    # THEN it moved once, the retry answers the same, and a consumer receives it afresh
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json() == {"queue": QUEUE, "moved": 1}
    consumer = new_queue()
    [delivery] = consumer.receive(QUEUE, wait_s=2)
    assert (delivery.message.id, delivery.message.delivery_count) == (message_id, 1)
    assert consumer.ack(delivery)
    assert client.get("/v1/admin/dead-letters", headers=admin).json()["queues"][3]["count"] == 0
    rows = [row for row in audit_rows(QUEUE) if row["actor"] == actor["id"]]
    assert [(row["action"], row["after_state"]["moved"]) for row in rows] == [("queue.redrive", 1)]
    # the same key with another body is refused
    reused = client.post(path, json={}, headers=key)
    problem(reused, 422, "IDEMPOTENCY_KEY_REUSED")


@pytest.mark.parametrize(
    "body",
    [
        {"message_ids": []},
        {"message_ids": "all"},
        {"message_ids": [5]},
        {"message_ids": ["x"], "queue": "steps-prepare"},
    ],
)
def test_a_bad_redrive_is_a_422(client: Any, body: Any) -> None:
    _, admin = new_account("admin")
    response = client.post(f"/v1/admin/dead-letters/{QUEUE}/redrive", json=body, headers=admin)
    problem(response, 422, "VALIDATION_FAILED")


def test_a_redrive_of_a_queue_that_is_not_a_step_queue_is_a_422(client: Any) -> None:
    _, admin = new_account("admin")
    response = client.post("/v1/admin/dead-letters/outbox/redrive", json={}, headers=admin)
    problem(response, 422, "VALIDATION_FAILED")


def test_an_operator_invalidates_a_cache_namespace_and_it_is_audited(client: Any) -> None:
    actor, operator = new_account("operator")
    before = int(get_redis().get("c:{catalog}:ver") or 0)

    response = client.post(
        "/v1/admin/cache/invalidate", json={"namespace": "catalog"}, headers=operator
    )

    assert response.status_code == 200, response.text
    assert response.json() == {"namespace": "catalog", "invalidated": True}
    assert int(get_redis().get("c:{catalog}:ver") or 0) == before + 1
    rows = [row for row in audit_rows("catalog") if row["actor"] == actor["id"]]
    assert [(row["action"], row["target_type"]) for row in rows] == [
        ("cache.invalidate", "cache_namespace")
    ]


@pytest.mark.parametrize(
    "body", [{"namespace": "sessions"}, {"namespace": 5}, {}, {"namespace": "catalog", "x": 1}]
)
def test_an_unknown_namespace_or_a_bad_body_is_a_422(client: Any, body: Any) -> None:
    _, operator = new_account("operator")
    before = get_redis().get("c:{catalog}:ver")
    response = client.post("/v1/admin/cache/invalidate", json=body, headers=operator)
    problem(response, 422, "VALIDATION_FAILED")
    assert get_redis().get("c:{catalog}:ver") == before
    if body == {"namespace": "sessions"}:
        assert "catalog" in response.text  # the namespaces there are


def test_route_metrics_come_from_the_local_sink_and_are_refused_elsewhere(
    client: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    _, operator = new_account("operator")
    # the test stack's sink is EMF: the figures are in CloudWatch, not here
    problem(
        client.get("/v1/admin/metrics/routes", headers=operator), 409, "ROUTE_METRICS_UNAVAILABLE"
    )
    # GIVEN the local sink, three overview reads and one refused window
    monkeypatch.setenv("RETOUCH_METRICS_SINK", "local")
    monkeypatch.setenv("RETOUCH_METRICS_LOCAL_PATH", str(tmp_path / "metrics.jsonl"))
    reset_clients()
    try:
        with admin_client() as local:
            for query in ("window=1h", "window=24h", "window=7d", "window=2h"):
                local.get(f"/v1/admin/metrics/overview?{query}", headers=operator)
            response = local.get("/v1/admin/metrics/routes?window=1h", headers=operator)
    finally:
        monkeypatch.delenv("RETOUCH_METRICS_SINK")
        monkeypatch.delenv("RETOUCH_METRICS_LOCAL_PATH")
        reset_clients()
    # THEN the overview's route shows them: four requests, one a 4xx
    assert response.status_code == 200, response.text
    [overview] = [
        r for r in response.json()["routes"] if r["route"] == "GET /v1/admin/metrics/overview"
    ]
    assert (overview["requests"], overview["errors_4xx"], overview["errors_5xx"]) == (4, 1, 0)
    assert overview["error_rate"] == 0.25
    assert 0 < overview["latency_ms_p50"] <= overview["latency_ms_p95"]
