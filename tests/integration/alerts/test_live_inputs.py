"""The live `AlertInputs` over what exists: the local metrics sink's file (HTTP 5xx rate and
p95 per route, the backup job's failures), the outbox on the real MariaDB, a Redis that is
down, and an input whose store fails."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis

from retouch.alerts.inputs import InputUnavailable, Observation
from retouch.alerts.live import LiveAlertInputs
from retouch.core.db import get_database
from retouch.core.metrics_local import LocalFileSink
from retouch.core.redis import get_redis
from retouch.queue.factory import get_queue
from retouch.queue.repository import OutboxRepository
from scripts.local.servers import free_port
from tests.conftest import Stack

pytestmark = pytest.mark.integration


def inputs(metrics: Path | None, *, redis_client: redis.Redis | None = None) -> LiveAlertInputs:
    return LiveAlertInputs(
        database=get_database(),
        redis_client=redis_client or get_redis(),
        queue=get_queue(),
        metrics_path=str(metrics) if metrics else None,
    )


def test_http_figures_and_backup_failures_come_from_the_local_sink(
    stack: Stack, tmp_path: Path
) -> None:
    now = datetime.now(timezone.utc)
    old = LocalFileSink(
        tmp_path / "m.jsonl", namespace="Retouch", clock=lambda: now.timestamp() - 900
    )
    old.record("Errors5xx", 50, "Count", {"route": "GET /v1/tasks", "service": "retouch"})
    old.flush()  # outside the 300 s window: not counted
    sink = LocalFileSink(tmp_path / "m.jsonl", namespace="Retouch", clock=lambda: now.timestamp())
    for n in range(20):
        route = {"route": "GET /v1/tasks", "service": "retouch"}
        sink.record("Requests", 1, "Count", route)
        sink.record("Errors5xx", 1 if n < 5 else 0, "Count", route)
        sink.record("Latency", 100 + n * 10, "Milliseconds", route)
    sink.record("BackupVerifyFailed", 1, "Count", {"service": "retouch"})
    sink.flush()
    live = inputs(tmp_path / "m.jsonl")

    assert live.observe("http_5xx_rate", window_s=300, now=now) == {
        "GET /v1/tasks": Observation(0.25, 20)
    }
    assert live.observe("http_p95_latency_ms", window_s=300, now=now) == {
        "GET /v1/tasks": Observation(280.0, 20)  # nearest rank: the 19th of 100..290
    }
    assert live.observe("backup_failed", window_s=300, now=now) == {
        "BackupVerifyFailed": Observation(1.0)
    }
    assert inputs(None).observe("http_5xx_rate", window_s=300, now=now) == {}


def test_the_outbox_backlog_counts_rows_older_than_a_minute(stack: Stack) -> None:
    now = datetime.now(timezone.utc)
    before = inputs(None).observe("outbox_backlog", window_s=300, now=now)[""].value or 0
    with get_database().unit_of_work() as uow:
        outbox = uow.repository(OutboxRepository)
        for _ in range(3):
            outbox.add(
                queue="steps-alerts-test", body="{}", delay_s=0, now=now - timedelta(minutes=5)
            )
        outbox.add(queue="steps-alerts-test", body="{}", delay_s=0, now=now)  # too young
        uow.commit()
    after = inputs(None).observe("outbox_backlog", window_s=300, now=now)[""].value
    assert after == before + 3
    with get_database().unit_of_work() as uow:
        uow.execute("DELETE FROM outbox WHERE queue_name = 'steps-alerts-test'")
        uow.commit()


def test_redis_down_is_observed_and_a_failing_store_is_unavailable(stack: Stack) -> None:
    dead = redis.Redis(port=free_port(), socket_connect_timeout=0.5)
    live = inputs(None, redis_client=dead)
    now = datetime.now(timezone.utc)

    assert live.observe("redis_down", window_s=60, now=now) == {"": Observation(1.0)}
    assert inputs(None).observe("redis_down", window_s=60, now=now) == {}
    assert inputs(None).observe("db_down", window_s=60, now=now) == {}
    with pytest.raises(InputUnavailable, match="provider_breaker_open"):
        live.observe("provider_breaker_open", window_s=60, now=now)
