"""The callback tests' vendor and task: a scripted vendor whose callbacks are signed as the
simulator's, a task whose `generate` step waits on its job (given a callback URL with its
token), and reads of what a callback may have written."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from starlette.testclient import TestClient

from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.pipeline.callbacks import receive_callback
from retouch.providers.port import CallbackEvent
from retouch.providers.simulator import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    SimulatorProvider,
    callback_signature,
)
from tests.integration.engine_support import Run
from tests.integration.pipeline_support import ScriptedProvider

SECRET = "callback-secret-for-tests-0123456789"
BASE = "https://api.example.test"


@dataclass
class SigningProvider(ScriptedProvider):
    """A scripted vendor whose callbacks are verified exactly as the simulator's are."""

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackEvent:
        return SimulatorProvider("http://127.0.0.1:9", "key", SECRET).parse_callback(headers, body)


def signed(
    event_id: str, job_id: str, *, at: float | None = None, secret: str = SECRET
) -> tuple[dict[str, str], bytes]:
    body = json.dumps({"event_id": event_id, "job_id": job_id, "status": "succeeded"}).encode()
    timestamp = str(int(time.time() if at is None else at))
    headers = {
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: callback_signature(secret, timestamp, body),
    }
    return headers, body


def waiting_run(client: TestClient, tmp_path: Path, *then: bytes | str) -> Run:
    """A task whose `generate` waits on the vendor's first job (no messages pending); its
    next polls answer `then` (pending by default)."""
    script = ["pending", "pending", *(then or ["pending"] * 20)]
    # Earlier tests' jobs are left waiting, each holding one of the vendor's 10 slots.
    get_redis().delete("slots:{tencent}")
    run = Run(client, tmp_path, SigningProvider("tencent", script), callback_base_url=BASE)
    run.engine.handle({"task_id": run.task_id, "step": "prepare", "attempt": 1})
    for _ in range(2):  # generate: submit (pending), then its first poll
        _, body = run.queue.sent.popleft()
        run.engine.handle(dict(body))
    run.queue.sent.clear()  # the next poll is a delayed message: the test plays the clock
    return run


def token_of(run: Run) -> str:
    """The secret token of the callback URL the run's vendor job was given."""
    provider = run.engine.context.providers.get("tencent")
    assert isinstance(provider, ScriptedProvider)
    url = provider.jobs[-1].callback_url
    assert url is not None
    return url.rsplit("/", 1)[1]


def callback(run: Run, headers: dict[str, str], body: bytes, *, token: str | None = None) -> str:
    return receive_callback(
        run.engine,
        provider_key="tencent",
        token=token_of(run) if token is None else token,
        headers=headers,
        body=body,
    )


def events_named(prefix: str) -> int:
    with get_database().read_only() as uow:
        row = uow.fetch_one(
            "SELECT COUNT(*) AS n FROM provider_events WHERE event_id LIKE %s", (f"{prefix}%",)
        )
    assert row is not None
    return int(row["n"])


def generate_row(run: Run) -> dict[str, object]:
    with get_database().read_only() as uow:
        row = uow.fetch_one(
            "SELECT s.* FROM task_steps s JOIN tasks t ON t.id = s.task_id "
            "WHERE t.public_id = %s AND s.step = 'generate'",
            (run.task_id,),
        )
    assert row is not None
    return dict(row)
