"""The live `AlertInputs`: what the rules observe, read from what the service has now."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import redis

from retouch.alerts.inputs import InputUnavailable, Observation, Reader
from retouch.alerts.rules import RuleKind
from retouch.catalog.repository import MySQLProviderRepository
from retouch.core.db import Database
from retouch.core.errors import ServiceUnavailable
from retouch.core.metrics_local import read_metrics
from retouch.core.redis import REDIS_UNAVAILABLE_ERRORS, RedisClient
from retouch.core.time import to_db
from retouch.providers.guards import ProviderGuards
from retouch.queue.port import QueuePort
from retouch.queue.repository import OutboxRepository
from retouch.queue.steps import STEP_KINDS, step_queue

#: The backup job's failure metrics (written by `functions/jobs/backup` and `verify`).
BACKUP_METRICS = frozenset({"BackupFailed", "BackupVerifyFailed"})
_STORE_ERRORS: tuple[type[Exception], ...] = (
    ServiceUnavailable,
    redis.RedisError,
    OSError,
    *REDIS_UNAVAILABLE_ERRORS,
)


class LiveAlertInputs:
    """Reads each kind on demand; a store that fails raises `InputUnavailable`, except for
    `db_down` and `redis_down`, whose failure is what they observe."""

    def __init__(
        self,
        *,
        database: Database,
        redis_client: RedisClient,
        queue: QueuePort,
        metrics_path: str | None,
    ) -> None:
        self._database, self._redis, self._queue = database, redis_client, queue
        self._metrics_path = Path(metrics_path) if metrics_path else None
        self._readers: dict[str, Reader] = {
            "http_5xx_rate": self._http_5xx_rate,
            "http_p95_latency_ms": self._http_p95,
            "task_failure_rate_feature": self._feature_failures,
            "task_failure_rate_provider": self._provider_failures,
            "dlq_depth": self._dlq_depth,
            "oldest_step_age_s": self._oldest_step_age,
            "outbox_backlog": self._outbox_backlog,
            "provider_breaker_open": self._breakers,
            "credit_anomaly": self._credit_anomaly,
            "backup_failed": self._backup_failures,
            "db_down": self._db_down,
            "redis_down": self._redis_down,
        }

    def observe(self, kind: RuleKind, *, window_s: int, now: datetime) -> dict[str, Observation]:
        try:
            return self._readers[kind](window_s, now)
        except _STORE_ERRORS as exc:
            raise InputUnavailable(f"{kind}: {type(exc).__name__}") from None

    # --- metrics (the local sink; on the clouds the rollups will answer these) -------------
    def _metrics(self, names: Iterable[str], window_s: int, now: datetime) -> list[dict[str, Any]]:
        if self._metrics_path is None:
            return []
        wanted = frozenset(names)
        since = now.timestamp() - window_s
        return [m for m in read_metrics(self._metrics_path, since=since) if m["name"] in wanted]

    def _http_5xx_rate(self, window_s: int, now: datetime) -> dict[str, Observation]:
        sums: dict[str, dict[str, float]] = defaultdict(lambda: {"Requests": 0, "Errors5xx": 0})
        for metric in self._metrics(("Requests", "Errors5xx"), window_s, now):
            route = metric.get("dimensions", {}).get("route", "unmatched")
            sums[route][metric["name"]] += float(metric["value"])
        return {
            route: Observation(s["Errors5xx"] / s["Requests"], int(s["Requests"]))
            for route, s in sums.items()
            if s["Requests"]
        }

    def _http_p95(self, window_s: int, now: datetime) -> dict[str, Observation]:
        latencies: dict[str, list[float]] = defaultdict(list)
        for metric in self._metrics(("Latency",), window_s, now):
            route = metric.get("dimensions", {}).get("route", "unmatched")
            latencies[route].append(float(metric["value"]))
        return {
            route: Observation(_p95(sorted(values)), len(values))
            for route, values in latencies.items()
        }

    def _backup_failures(self, window_s: int, now: datetime) -> dict[str, Observation]:
        failures: dict[str, float] = defaultdict(float)
        for metric in self._metrics(BACKUP_METRICS, window_s, now):
            failures[metric["name"]] += float(metric["value"])
        return {name: Observation(count) for name, count in failures.items()}

    # --- MySQL: bounded ranges on indexes ----------------------------------------------------
    def _feature_failures(self, window_s: int, now: datetime) -> dict[str, Observation]:
        rows = self._select(
            "SELECT feature_key, SUM(status = 'failed') AS failed, COUNT(*) AS ended "
            "FROM tasks WHERE finished_at >= %s AND finished_at <= %s "
            "AND status IN ('succeeded', 'failed') GROUP BY feature_key",
            (to_db(now - timedelta(seconds=window_s)), to_db(now)),
        )
        return {
            row["feature_key"]: Observation(
                int(row["failed"]) / int(row["ended"]), int(row["ended"])
            )
            for row in rows
        }

    def _oldest_step_age(self, _window_s: int, now: datetime) -> dict[str, Observation]:
        rows = self._select(
            "SELECT MIN(updated_at) AS oldest FROM task_steps WHERE status = 'running'", ()
        )
        oldest = rows[0]["oldest"] if rows else None
        if oldest is None:
            return {}
        return {"": Observation((to_db(now) - oldest).total_seconds())}

    def _outbox_backlog(self, _window_s: int, now: datetime) -> dict[str, Observation]:
        with self._database.read_only() as uow:
            backlog = uow.repository(OutboxRepository).count_unpublished(
                created_before=now - timedelta(seconds=60)
            )
        return {"": Observation(float(backlog))}

    def _credit_anomaly(self, window_s: int, now: datetime) -> dict[str, Observation]:
        """Credits charged in the window against the same window a week before: the ratio
        (the week-ago figure counts at least 1), over `samples` = credits charged now."""
        week = timedelta(days=7)
        start = now - timedelta(seconds=window_s)
        sql = (
            "SELECT COALESCE(SUM(ABS(amount)), 0) AS credits FROM quota_ledger "
            "WHERE kind = 'charge' AND created_at >= %s AND created_at < %s"
        )
        current = float(self._select(sql, (to_db(start), to_db(now)))[0]["credits"])
        before = float(self._select(sql, (to_db(start - week), to_db(now - week)))[0]["credits"])
        return {"": Observation(current / max(before, 1.0), int(current))}

    def _select(self, sql: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
        with self._database.read_only() as uow:
            return uow.fetch_all(sql, params)

    # --- Redis and the queues ------------------------------------------------------------
    def _providers(self) -> list[str]:
        with self._database.read_only() as uow:
            return sorted(MySQLProviderRepository(uow).keys())

    def _provider_failures(self, _window_s: int, _now: datetime) -> dict[str, Observation]:
        guards, answer = ProviderGuards(self._redis), {}
        for provider in self._providers():
            health = guards.health(provider)
            ended = health.succeeded + health.failed
            if ended:
                answer[provider] = Observation(health.failed / ended, ended)
        return answer

    def _breakers(self, _window_s: int, _now: datetime) -> dict[str, Observation]:
        guards = ProviderGuards(self._redis)
        return {p: Observation(1.0) for p in self._providers() if guards.health(p).breaker_open}

    def _dlq_depth(self, _window_s: int, _now: datetime) -> dict[str, Observation]:
        """Dead letters per step queue, by the queue port's `depth`: no message is received,
        so SQS is read too (the dead-letter queues' approximate counts)."""
        try:
            depths = {step_queue(s): self._queue.depth(step_queue(s)).dead for s in STEP_KINDS}
        except Exception as exc:  # noqa: BLE001 - redis-py, botocore, NotSupported: any adapter
            raise InputUnavailable(f"dlq_depth: {type(exc).__name__}") from None
        return {queue: Observation(float(n)) for queue, n in depths.items() if n}

    def _db_down(self, _window_s: int, _now: datetime) -> dict[str, Observation]:
        try:
            self._database.ping()
        except ServiceUnavailable:
            return {"": Observation(1.0)}
        return {}

    def _redis_down(self, _window_s: int, _now: datetime) -> dict[str, Observation]:
        try:
            self._redis.ping()
        except REDIS_UNAVAILABLE_ERRORS:
            return {"": Observation(1.0)}
        return {}


def _p95(ordered: list[float]) -> float | None:
    """Nearest-rank 95th percentile of an ordered list."""
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)] if ordered else None
