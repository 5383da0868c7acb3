"""Task events a browser can use, on the real MariaDB and Redis: an `id:` on every event and
`Last-Event-ID` resume that neither misses nor repeats a state, the stream token for
`EventSource` (this task, this user, alive, never an access token, never logged), and the
per-user cap on open streams."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from retouch.caller.stream_tokens import issue_stream_token
from retouch.core.db import get_database
from retouch.core.identity import Principal
from retouch.core.redis import get_redis
from retouch.core.security import TokenConfig
from retouch.core.settings import get_settings
from retouch.core.time import utc_now
from retouch.notify import publish_task_event
from retouch.tasks.stream_slots import slots_key, take_slot
from scripts.local.gateway import create_gateway
from scripts.local.sam import load_template
from tests.conftest import LogLines, Stack
from tests.integration.identity_support import new_account
from tests.integration.task_support import finish, inputs_for, tasks_app, when_stream_listens

pytestmark = pytest.mark.integration

CAP = 2


@pytest.fixture
def client(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    # Short streams: an unfinished task's stream ends after a second, as EventSource expects.
    monkeypatch.setenv("RETOUCH_TASK_EVENTS_MAX_S", "1")
    monkeypatch.setenv("RETOUCH_TASK_EVENTS_STREAMS_PER_USER", str(CAP))
    get_settings.cache_clear()
    with TestClient(tasks_app()) as test_client:
        yield test_client


def events_of(response: httpx.Response) -> list[tuple[int, dict[str, Any]]]:
    """(id, data) of each event of an SSE body, checking each event has both."""
    found = []
    for block in response.text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "data" in fields:
            assert fields["event"] == "task"
            found.append((int(fields["id"]), json.loads(fields["data"])))
    return found


def new_task(client: TestClient, owner: dict[str, Any], headers: dict[str, str]) -> str:
    body = {"feature": "cutout", "inputs": inputs_for("cutout", owner["id"])}
    response = client.post("/v1/tasks", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return str(response.json()["id"])


def get_events(
    client: TestClient,
    task_id: str,
    headers: dict[str, str],
    last: str | None = None,
    **params: str,
) -> httpx.Response:
    extra = {"Last-Event-ID": last} if last is not None else {}
    response: httpx.Response = client.get(
        f"/v1/tasks/{task_id}/events", headers={**headers, **extra}, params=params
    )
    return response


def start_running(task_id: str) -> None:
    with get_database().unit_of_work() as uow:
        uow.execute(
            "UPDATE tasks SET status = 'running', started_at = %s WHERE public_id = %s",
            (utc_now(), task_id),
        )
        uow.commit()


# --- ids and resume ---------------------------------------------------------------------


def test_each_reconnect_with_the_last_id_gets_exactly_the_states_it_missed(
    client: TestClient,
) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)
    seen: list[tuple[int, dict[str, Any]]] = []

    seen += events_of(get_events(client, task_id, headers))
    start_running(task_id)
    seen += events_of(get_events(client, task_id, headers, last=str(seen[-1][0])))
    finish(task_id, "succeeded")
    seen += events_of(get_events(client, task_id, headers, last=str(seen[-1][0])))
    done = get_events(client, task_id, headers, last=str(seen[-1][0]))

    assert [(number, data["status"]) for number, data in seen] == [
        (1, "queued"),
        (2, "running"),
        (3, "succeeded"),
    ]
    # A finished task asked for after its last event: 204, EventSource stops reconnecting.
    assert (done.status_code, done.text) == (204, "")


def test_a_client_that_slept_through_two_states_gets_both_in_order(client: TestClient) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)
    start_running(task_id)
    finish(task_id, "failed")

    events = events_of(get_events(client, task_id, headers, last="1"))

    assert [(number, data["status"]) for number, data in events] == [(2, "running"), (3, "failed")]
    running = events[0][1]
    assert running["started_at"] is not None
    assert (running["finished_at"], running["output"], running["error"]) == (None, None, None)


def test_a_task_canceled_before_it_ran_has_no_running_event(client: TestClient) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)
    client.post(f"/v1/tasks/{task_id}/cancel", headers=headers)

    events = events_of(get_events(client, task_id, headers))

    assert [(number, data["status"]) for number, data in events] == [(1, "queued"), (3, "canceled")]


def test_one_live_stream_sends_every_state_once_with_its_id(client: TestClient) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)

    def run_then_cancel() -> None:
        start_running(task_id)
        publish_task_event(get_redis(), task_id, {"id": task_id, "status": "running"})
        time.sleep(0.2)
        with TestClient(tasks_app()) as own:
            own.post(f"/v1/tasks/{task_id}/cancel", headers=headers)

    worker = when_stream_listens(task_id, run_then_cancel)
    response = client.get(f"/v1/tasks/{task_id}/events", headers=headers)
    worker.join()

    statuses = [(number, data["status"]) for number, data in events_of(response)]
    assert statuses == [(1, "queued"), (2, "running"), (3, "canceled")]


@pytest.mark.parametrize("value", ["x", "4", "-1", "1 2"])
def test_a_last_event_id_that_we_never_sent_is_a_422(client: TestClient, value: str) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)

    response = get_events(client, task_id, headers, last=value)

    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["header.last-event-id"]


# --- stream tokens ------------------------------------------------------------------------


def stream_token(client: TestClient, task_id: str, headers: dict[str, str]) -> str:
    response = client.post(f"/v1/tasks/{task_id}/events-token", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["expires_in"] == 300
    assert body["events_url"] == f"/v1/tasks/{task_id}/events?token={body['token']}"
    return str(body["token"])


def test_eventsource_can_follow_a_task_with_its_stream_token_and_it_is_never_logged(
    client: TestClient, log_lines: LogLines
) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)
    token = stream_token(client, task_id, headers)
    client.post(f"/v1/tasks/{task_id}/cancel", headers=headers)

    first = get_events(client, task_id, {}, token=token)
    again = get_events(client, task_id, {}, last="3", token=token)  # EventSource reconnects

    assert first.status_code == 200
    assert [number for number, _ in events_of(first)] == [1, 3]
    assert again.status_code == 204
    logged = json.dumps(log_lines.all())
    assert "/events" in logged or "events" in logged
    assert token not in logged
    assert token.split(".")[2] not in logged


def assert_refused(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "UNAUTHENTICATED"


def test_a_stream_token_opens_its_own_task_only(client: TestClient) -> None:
    alice, alice_headers = new_account()
    bob, bob_headers = new_account()
    alice_task = new_task(client, alice, alice_headers)
    alice_other = new_task(client, alice, alice_headers)
    bob_task = new_task(client, bob, bob_headers)
    alice_token = stream_token(client, alice_task, alice_headers)
    bob_token = stream_token(client, bob_task, bob_headers)

    assert_refused(get_events(client, alice_other, {}, token=alice_token))
    assert_refused(get_events(client, alice_task, {}, token=bob_token))
    assert_refused(get_events(client, bob_task, {}, token=alice_token))
    # and a token is given only for a task of one's own
    refused = client.post(f"/v1/tasks/{bob_task}/events-token", headers=alice_headers)
    assert refused.status_code == 404


def test_an_expired_stream_token_is_refused(client: TestClient) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)
    principal = principal_of(client, headers)
    config = TokenConfig.from_settings(get_settings())

    expired = issue_stream_token(
        config=config,
        principal=principal,
        task_id=task_id,
        ttl_s=300,
        now=int(time.time()) - 301,
    )

    assert_refused(get_events(client, task_id, {}, token=expired.token))


def principal_of(client: TestClient, headers: dict[str, str]) -> Principal:
    from retouch.caller.service import authenticate

    return authenticate(
        database=get_database(),
        config=TokenConfig.from_settings(get_settings()),
        access_token=headers["Authorization"].removeprefix("Bearer "),
    )


def test_a_stream_token_is_not_an_access_token_and_an_access_token_is_not_a_stream_token(
    client: TestClient,
) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)
    token = stream_token(client, task_id, headers)
    access_token = headers["Authorization"].removeprefix("Bearer ")

    as_bearer = {"Authorization": f"Bearer {token}"}
    assert_refused(client.get(f"/v1/tasks/{task_id}", headers=as_bearer))
    assert_refused(get_events(client, task_id, as_bearer))
    assert_refused(client.post(f"/v1/tasks/{task_id}/events-token", headers=as_bearer))
    assert_refused(get_events(client, task_id, {}, token=access_token))
    # `?token=` is read on the events route only
    assert_refused(client.get(f"/v1/tasks/{task_id}", params={"token": token}))


def test_signing_out_ends_a_stream_tokens_use(client: TestClient) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)
    token = stream_token(client, task_id, headers)
    with get_database().unit_of_work() as uow:
        uow.execute("UPDATE users SET status = 'disabled' WHERE public_id = %s", (user["id"],))
        uow.commit()

    assert_refused(get_events(client, task_id, {}, token=token))


# --- the cap on open streams ------------------------------------------------------------


def test_a_user_at_the_cap_gets_a_429_that_says_when_and_a_stream_gives_its_slot_back(
    client: TestClient,
) -> None:
    user, headers = new_account()
    task_id = new_task(client, user, headers)
    redis = get_redis()
    held = [take_slot(redis, user["id"], cap=CAP, hold_s=1) for _ in range(CAP)]

    refused = get_events(client, task_id, headers)

    assert refused.status_code == 429
    problem = refused.json()
    assert problem["code"] == "TOO_MANY_STREAMS"
    assert problem["detail"] == f"最多同时打开 {CAP} 个事件流"
    assert refused.headers["retry-after"] == refused.headers["ratelimit-reset"]
    assert 1 <= int(refused.headers["retry-after"]) <= 1 + 30 + 1
    # another user is not affected, and a stream that ends frees its slot
    other, other_headers = new_account()
    assert get_events(client, new_task(client, other, other_headers), other_headers).is_success
    redis.zrem(slots_key(user["id"]), held[0])
    assert get_events(client, task_id, headers).status_code == 200
    assert redis.zcard(slots_key(user["id"])) == CAP - 1


# --- a browser through the local gateway ----------------------------------------------------


def test_a_browser_page_follows_a_task_through_the_gateway_with_eventsource(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    origin = "http://localhost:5173"
    monkeypatch.setenv("RETOUCH_CORS_ORIGINS", origin)
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_ROOT", str(tmp_path / "objects"))
    monkeypatch.setenv("RETOUCH_STORAGE_LOCAL_SIGNING_KEY", "s" * 40)
    get_settings.cache_clear()
    user, headers = new_account()
    task_id = new_task(client, user, headers)
    client.post(f"/v1/tasks/{task_id}/cancel", headers=headers)

    with TestClient(create_gateway(load_template())) as gateway:
        preflight = gateway.options(
            f"/v1/tasks/{task_id}/events-token",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        issued = gateway.post(
            f"/v1/tasks/{task_id}/events-token", headers={**headers, "Origin": origin}
        )
        # what `new EventSource(base + events_url)` sends: no Authorization, the page's origin
        stream = gateway.get(
            issued.json()["events_url"],
            headers={"Origin": origin, "Accept": "text/event-stream"},
        )

    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert issued.headers["access-control-allow-origin"] == origin
    assert stream.status_code == 200
    assert stream.headers["access-control-allow-origin"] == origin
    assert [(number, data["status"]) for number, data in events_of(stream)] == [
        (1, "queued"),
        (3, "canceled"),
    ]
