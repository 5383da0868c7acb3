"""The jobs' and trigger's benchmark baseline: a bare Powertools handler with Logger and
Metrics doing one MySQL statement.

`Logger` with the Lambda context injected, `Metrics` flushed after the call, one log line, one
metric and one `SELECT 1` per invocation (every job and the trigger work on the database), the
connection opened lazily on first use from the same `RETOUCH_DB_*` variables as ours, so both
sides pay the same connect. Nothing else: no settings, no Redis.
`scripts/bench/coldstart.py` compares the cold start of every scheduled job and of the storage
trigger against this.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import pymysql
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

logger = Logger(service="bench")
metrics = Metrics(namespace="Bench", service="bench")


@cache
def bare_mysql() -> pymysql.Connection[Any]:
    return pymysql.connect(
        host=os.environ["RETOUCH_DB_HOST"],
        port=int(os.environ["RETOUCH_DB_PORT"]),
        user=os.environ["RETOUCH_DB_USER"],
        password=os.environ["RETOUCH_DB_PASSWORD"],
        database=os.environ["RETOUCH_DB_NAME"],
        connect_timeout=5,
        autocommit=True,
    )


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with bare_mysql().cursor() as cursor:
        cursor.execute("SELECT 1")
        (value,) = cursor.fetchone() or (0,)
    logger.info("bare job", extra={"keys": sorted(event), "value": value})
    metrics.add_metric(name="Runs", unit=MetricUnit.Count, value=1)
    return {"done": value}
