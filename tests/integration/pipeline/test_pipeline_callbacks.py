"""Provider callbacks against real MariaDB and Redis: only a callback with its job's token and
a valid signature, and new, prompts the waiting step, and the step then asks the vendor;
forged, stale, replayed or token-less callbacks change nothing, nor does a late one for a
canceled task; old event ids are purged in batches. (Over HTTP: test_callback_route.py.)"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from retouch.core.db import get_database
from retouch.core.time import to_db, utc_now
from retouch.pipeline.handlers import purge_provider_events
from tests.conftest import Stack
from tests.integration.callback_support import (
    BASE,
    SECRET,
    callback,
    events_named,
    generate_row,
    signed,
    waiting_run,
)
from tests.integration.engine_support import Run
from tests.integration.pipeline_support import PNG, ScriptedProvider, drain
from tests.integration.task_support import quota, tasks_app

pytestmark = pytest.mark.integration


@pytest.fixture
def client(stack: Stack) -> Iterator[TestClient]:
    with TestClient(tasks_app()) as test_client:
        yield test_client


@pytest.fixture
def waiting(client: TestClient, tmp_path: Path) -> Run:
    return waiting_run(client, tmp_path)


def test_a_callback_with_its_token_prompts_the_waiting_step_once_and_it_succeeds(
    client: TestClient, tmp_path: Path
) -> None:
    run = waiting_run(client, tmp_path, PNG)
    headers, body = signed(f"evt-{run.task_id}", run.vendor_job)

    first = callback(run, headers, body)
    replay = callback(run, headers, body)

    assert (first, replay) == ("prompted", "replayed")
    assert [m for _, m in run.queue.sent] == [
        {"task_id": run.task_id, "step": "generate", "index": 1, "attempt": 1, "prompt": True}
    ]
    drain(run.engine, run.queue)  # the prompt polls: the vendor says done
    assert run.task()["status"] == "succeeded"
    assert run.charged()


@pytest.mark.parametrize("base", [BASE, None])
def test_jobs_are_given_a_callback_url_with_a_token_only_its_digest_is_kept(
    client: TestClient, tmp_path: Path, base: str | None
) -> None:
    provider = ScriptedProvider("tencent", ["pending", PNG])
    run = Run(client, tmp_path, provider, callback_base_url=base)
    run.engine.handle({"task_id": run.task_id, "step": "prepare", "attempt": 1})
    _, generate = run.queue.sent.popleft()
    run.engine.handle(dict(generate))  # submit: the job waits

    (url,) = [job.callback_url for job in provider.jobs]
    row = generate_row(run)
    if base is None:
        assert url is None and row["callback_token_hash"] is None
        return
    assert url is not None
    match = re.fullmatch(rf"{re.escape(base)}/v1/callbacks/tencent/([A-Za-z0-9_-]{{43}})", url)
    assert match is not None, url
    assert row["callback_token_hash"] == hashlib.sha256(match[1].encode()).hexdigest()
    assert match[1] not in json.dumps(row, default=str)


@pytest.mark.parametrize(
    "forgery", ["wrong-secret", "stale", "no-signature", "tampered-body", "no-token", "bad-token"]
)
def test_forged_stale_or_token_less_callbacks_change_nothing(waiting: Run, forgery: str) -> None:
    event = f"evt-{forgery}-{waiting.task_id}"
    headers, body = signed(
        event,
        waiting.vendor_job,
        secret="not-the-secret" if forgery == "wrong-secret" else SECRET,
        at=time.time() - 3600 if forgery == "stale" else None,
    )
    if forgery == "no-signature":
        headers = {}
    if forgery == "tampered-body":
        body = body.replace(waiting.vendor_job.encode(), b"tencent-other")
    token = {"no-token": "", "bad-token": secrets.token_urlsafe(32)}.get(forgery)

    outcome = callback(waiting, headers, body, token=token)

    assert outcome in ("unverified", "bad_token")
    assert not waiting.queue.sent
    assert events_named(event) == 0 and generate_row(waiting)["prompted_at"] is None
    assert waiting.task()["status"] == "running"


def test_a_late_callback_for_a_canceled_task_changes_nothing(
    client: TestClient, waiting: Run
) -> None:
    # GIVEN the owner canceled while the vendor job ran
    assert (
        client.post(f"/v1/tasks/{waiting.task_id}/cancel", headers=waiting.headers).status_code
        == 200
    )

    # WHEN the vendor's callback arrives and its prompt is run
    headers, body = signed(f"evt-late-{waiting.task_id}", waiting.vendor_job)
    callback(waiting, headers, body)
    drain(waiting.engine, waiting.queue)

    # THEN the task stays canceled with its credits back once; the vendor job is canceled
    assert waiting.task()["status"] == "canceled"
    assert quota(waiting.user["id"]) == waiting.before


def test_the_purge_deletes_old_events_only_a_bounded_batch_at_a_time(stack: Stack) -> None:
    # GIVEN 5 events received 8 days ago and 2 received 6 days ago
    prefix, now = f"purge-{secrets.token_hex(4)}-", utc_now()
    with get_database().unit_of_work() as uow:
        for n, days in enumerate([8] * 5 + [6] * 2):
            uow.execute(
                "INSERT INTO provider_events (provider_key, event_id, received_at) "
                "VALUES ('tencent', %s, %s)",
                (f"{prefix}{n}", to_db(now - timedelta(days=days))),
            )
        uow.commit()
    database, week = get_database(), 7 * 86_400

    # WHEN a run may delete two batches of two
    first = purge_provider_events(database=database, retention_s=week, batch=2, max_batches=2)

    # THEN it stops after four; the next run deletes the last old one; the recent ones stay
    assert (first, events_named(prefix)) == (4, 3)
    assert purge_provider_events(database=database, retention_s=week, batch=2) == 1
    assert events_named(prefix) == 2
