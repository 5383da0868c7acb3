"""The `monitor` job's composition: the live inputs, this deploy's notifiers, one run."""

from __future__ import annotations

from typing import Any

import httpx

from retouch.alerts.channels import build_notifiers
from retouch.alerts.live import LiveAlertInputs
from retouch.alerts.monitor import MonitorRun, run_monitor
from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.core.settings import get_settings
from retouch.core.time import Clock, utc_now
from retouch.queue.factory import get_queue


def monitor_once(*, clock: Clock = utc_now) -> dict[str, Any]:
    """Evaluate every rule and deliver what is owed (see `retouch.alerts.monitor`)."""
    settings, database = get_settings(), get_database()
    local_metrics = settings.metrics_local_path if settings.metrics_sink == "local" else None
    inputs = LiveAlertInputs(
        database=database,
        redis_client=get_redis(),
        queue=get_queue(),
        metrics_path=local_metrics,
        count_dead_letters=settings.queue_backend != "sqs",
    )
    with httpx.Client(timeout=settings.alerts_send_timeout_s, follow_redirects=False) as client:
        run = MonitorRun(
            inputs=inputs,
            notifiers=build_notifiers(settings, client),
            now=clock(),
            language=settings.alerts_language,
            claim_s=settings.alerts_claim_s,
        )
        return run_monitor(database, run)
