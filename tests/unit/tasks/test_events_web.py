"""The rules of web-ready task events without a server: which events a client that has seen
up to an id is owed, and which stream tokens verify (this task, alive, ours, not an access
token). The stream itself, resume and the cap run on Redis in
tests/integration/tasks/test_task_events_web.py."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import Any

import jwt
import pytest

from retouch.caller.stream_tokens import issue_stream_token, verify_stream_token
from retouch.core.errors import Unauthenticated
from retouch.core.security import TokenConfig, issue_access_token, verify_access_token
from retouch.tasks.events import event_id, events_after, sse_events
from retouch.tasks.schemas import TaskRead
from tests.fakes.identity import principal

AT = datetime(2030, 1, 1, tzinfo=timezone.utc)
CONFIG = TokenConfig(
    keys={"k1": b"k" * 32}, active_kid="k1", issuer="retouch", audience="retouch-api", ttl_s=900
)
TASK = "tsk_" + "a" * 22
OTHER = "tsk_" + "b" * 22


def task(status: str, *, ran: bool = True) -> TaskRead:
    ended = status in ("succeeded", "failed", "canceled")
    fields: dict[str, Any] = {
        "id": TASK,
        "feature": "cutout",
        "status": status,
        "inputs": {"image": "upl_x"},
        "output": {"images": []} if status == "succeeded" else None,
        "error": {"code": "GENERATION_FAILED", "message": "x"} if status == "failed" else None,
        "cost": 2,
        "created_at": AT,
        "started_at": AT if ran and status != "queued" else None,
        "finished_at": AT if ended else None,
    }
    return TaskRead.model_validate(fields)


@pytest.mark.parametrize("status", ["succeeded", "failed", "canceled"])
def test_from_any_id_the_owed_events_are_the_later_states_once_each_in_order(status: str) -> None:
    finished = task(status)

    owed = {last: [(n, t.status) for n, t in events_after(last, finished)] for last in range(4)}

    assert owed == {
        0: [(1, "queued"), (2, "running"), (3, status)],
        1: [(2, "running"), (3, status)],
        2: [(3, status)],
        3: [],
    }


def test_a_past_state_is_the_task_as_it_was_then() -> None:
    queued, running, _ = [t for _, t in events_after(0, task("succeeded"))]

    assert (queued.started_at, queued.finished_at, queued.output) == (None, None, None)
    assert running.started_at == AT
    assert (running.finished_at, running.output, running.error) == (None, None, None)


def test_a_task_that_never_ran_owes_no_running_event() -> None:
    canceled = task("canceled", ran=False)

    assert [n for n, _ in events_after(0, canceled)] == [1, 3]
    assert event_id(canceled) == 3


def test_every_event_carries_its_id_event_and_one_line_of_data() -> None:
    body = sse_events(events_after(0, task("running"))).decode()

    blocks = [block.splitlines() for block in body.strip().split("\n\n")]
    assert [block[:2] for block in blocks] == [["id: 1", "event: task"], ["id: 2", "event: task"]]
    assert all(len(block) == 3 and block[2].startswith("data: {") for block in blocks)


def stream_token(task_id: str = TASK, **overrides: Any) -> str:
    return issue_stream_token(
        config=CONFIG, principal=principal(1), task_id=task_id, ttl_s=300, **overrides
    ).token


def test_a_stream_token_verifies_for_its_task_with_its_users_claims() -> None:
    claims = verify_stream_token(stream_token(), config=CONFIG, task_id=TASK)

    assert claims.subject == principal(1).public_id
    assert claims.expires_at - claims.issued_at == 300


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(lambda: stream_token(OTHER), id="another-task"),
        pytest.param(lambda: stream_token(now=int(time.time()) - 301), id="expired"),
        pytest.param(
            lambda: (
                issue_access_token(
                    config=CONFIG, subject=principal(1).public_id, role="user", session_id="s"
                ).token
            ),
            id="access-token",
        ),
        pytest.param(
            lambda: jwt.encode(
                jwt.decode(stream_token(), options={"verify_signature": False}),
                b"x" * 32,
                algorithm="HS256",
                headers={"kid": "k1", "typ": "stream+jwt"},
            ),
            id="another-key",
        ),
        pytest.param(lambda: stream_token().rsplit(".", 1)[0] + ".", id="unsigned"),
        pytest.param(lambda: "not-a-token", id="garbage"),
    ],
)
def test_anything_but_a_live_stream_token_for_this_task_is_refused(token: Any) -> None:
    with pytest.raises(Unauthenticated):
        verify_stream_token(token(), config=CONFIG, task_id=TASK)


def test_a_stream_token_is_no_access_token() -> None:
    with pytest.raises(Unauthenticated):
        verify_access_token(stream_token(), config=CONFIG)
