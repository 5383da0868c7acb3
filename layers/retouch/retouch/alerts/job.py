"""The `monitor` job's composition: the live inputs, this deploy's notifiers, one run."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import httpx
import redis

from retouch.alerts.channels import build_notifiers
from retouch.alerts.cloudwatch import CLOUDWATCH_KINDS, CloudWatchInputs
from retouch.alerts.inputs import AlertInputs, CombinedInputs
from retouch.alerts.live import LiveAlertInputs
from retouch.alerts.monitor import MonitorRun, run_monitor
from retouch.alerts.tencent_monitor import CLOUD_MONITOR_KINDS, CloudMonitorInputs
from retouch.core.db import DatabaseUnavailable, get_database
from retouch.core.logging import logger
from retouch.core.metrics import NAMESPACE
from retouch.core.redis import get_redis
from retouch.core.settings import get_settings, running_on_scf, scf_region
from retouch.core.time import Clock, utc_now
from retouch.notify.messages import AlertMessage, Language, Notifier, NotifierError
from retouch.queue.factory import get_queue


def monitor_once(*, clock: Clock = utc_now) -> dict[str, Any]:
    """Evaluate every rule and deliver what is owed (see `retouch.alerts.monitor`). With
    MySQL unreachable the rules and their states are too: `database_down` says so directly."""
    settings, database = get_settings(), get_database("job")
    local_metrics = settings.metrics_local_path if settings.metrics_sink == "local" else None
    inputs: AlertInputs = LiveAlertInputs(
        database=database,
        redis_client=get_redis(),
        queue=get_queue(),
        metrics_path=local_metrics,
    )
    if settings.metrics_sink in (None, "emf") and os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        # On Lambda the HTTP and backup figures are EMF metrics: CloudWatch has them.
        inputs = CombinedInputs(CloudWatchInputs(namespace=NAMESPACE), CLOUDWATCH_KINDS, inputs)
    elif settings.metrics_sink == "tencent" or (settings.metrics_sink is None and running_on_scf()):
        # On SCF they are Cloud Monitor custom metrics (the sink announces NAMESPACE).
        cloud = CloudMonitorInputs(
            namespace=settings.alerts_tencent_namespace,
            instance=NAMESPACE,
            region=settings.metrics_tencent_region or scf_region(),
            endpoint=settings.metrics_tencent_endpoint,
        )
        inputs = CombinedInputs(cloud, CLOUD_MONITOR_KINDS, inputs)
    with httpx.Client(timeout=settings.alerts_send_timeout_s, follow_redirects=False) as client:
        run = MonitorRun(
            inputs=inputs,
            notifiers=build_notifiers(settings, client),
            now=clock(),
            language=settings.alerts_language,
            claim_s=settings.alerts_claim_s,
        )
        try:
            return run_monitor(database, run)
        except DatabaseUnavailable:
            return database_down(run.notifiers, now=run.now, language=run.language)


#: While MySQL stays down, `database_down` notifies once per this many seconds.
DB_DOWN_REPEAT_S = 900


def database_down(
    notifiers: Mapping[str, Notifier], *, now: datetime, language: Language
) -> dict[str, Any]:
    """Tell every channel MySQL is unreachable, once per DB_DOWN_REPEAT_S across runs (a
    Redis key set only if absent, with that TTL). Without MySQL there is no state to record a
    recovery in: the `db_down` rule's own recovery message needs a firing row, so none is
    sent; the rules resume with the database."""
    try:
        first = get_redis().set("alerts:{db_down}:notified", "1", nx=True, ex=DB_DOWN_REPEAT_S)
    except redis.RedisError:
        first = True  # both stores down: better a repeat each minute than silence
    if not first:
        return {"database": "down", "sent": 0, "failed": 0}
    message = AlertMessage(
        phase="firing",
        rule="db_down",
        summary="数据库不可用" if language == "zh-CN" else "Database unreachable",
        subject="",
        value=1.0,
        threshold=1.0,
        severity="critical",
        since=now,
        language=language,
    )
    sent = failed = 0
    for channel, notifier in notifiers.items():
        try:
            notifier.send(message)
            sent += 1
        except NotifierError as exc:
            logger.warning("alert not delivered", extra={"channel": channel, "error": str(exc)})
            failed += 1
    return {"database": "down", "sent": sent, "failed": failed}
