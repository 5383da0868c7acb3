"""`GET /v1/admin/metrics/routes`: requests, rate, latency percentiles and errors per route.

The source is what the metrics port's per-request set (`Requests`, `Latency`, `Errors4xx`,
`Errors5xx` by `route`) reaches. With the local sink (`RETOUCH_METRICS_SINK=local`: the local
stack) that is a file this route reads (`core.metrics_local.read_metrics`, bounded by the
sink's rotation size). On AWS the same values are EMF lines in CloudWatch and on SCF custom
metrics in Cloud Monitor: the route answers 409 `ROUTE_METRICS_UNAVAILABLE` there, and the
CloudWatch dashboard or Cloud Monitor shows them (docs/observability.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from retouch.admin.schemas import RouteMetrics, RoutesMetrics, Window
from retouch.core.errors import AppError
from retouch.core.metrics_local import read_metrics
from retouch.core.settings import Settings
from retouch.core.time import Clock, utc_now
from retouch.rollups.sources import percentile

_SPANS: dict[Window, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(days=1),
    "7d": timedelta(days=7),
}


class RouteMetricsUnavailable(AppError):
    """The metrics go to CloudWatch or Cloud Monitor, not to a file this function can read."""

    code = "ROUTE_METRICS_UNAVAILABLE"


def route_metrics(*, settings: Settings, window: Window, clock: Clock = utc_now) -> RoutesMetrics:
    """Per route over the last `window`, busiest first (the local sink's file)."""
    if settings.metrics_sink != "local":
        raise RouteMetricsUnavailable(
            "per-route metrics are read from the local sink only; on the clouds see the "
            "CloudWatch dashboard or Cloud Monitor"
        )
    until = clock()
    since = until - _SPANS[window]
    values = read_metrics(settings.metrics_local_path, since=since.timestamp())
    return RoutesMetrics(
        window=window,
        since=since,
        until=until,
        routes=summarise(values, seconds=_SPANS[window].total_seconds(), until=until),
    )


def summarise(
    values: Iterable[Mapping[str, Any]], *, seconds: float, until: datetime
) -> list[RouteMetrics]:
    """The per-request values of a sink summed per route (later than `until` ignored)."""
    latencies: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    cutoff = until.astimezone(timezone.utc).timestamp()
    for value in values:
        route = (value.get("dimensions") or {}).get("route")
        if not route or value.get("time", 0) > cutoff:
            continue
        if value.get("name") == "Latency":
            latencies[route].append(float(value["value"]))
        elif value.get("name") in ("Requests", "Errors4xx", "Errors5xx"):
            counts[route][value["name"]] += float(value["value"])
    routes = []
    for route, figures in counts.items():
        requests = int(figures["Requests"])
        if not requests:
            continue
        spans = sorted(latencies[route])
        routes.append(
            RouteMetrics(
                route=route,
                requests=requests,
                requests_per_s=round(requests / seconds, 4),
                latency_ms_p50=_rank(spans, 50),
                latency_ms_p95=_rank(spans, 95),
                errors_4xx=int(figures["Errors4xx"]),
                errors_5xx=int(figures["Errors5xx"]),
                error_rate=round((figures["Errors4xx"] + figures["Errors5xx"]) / requests, 4),
            )
        )
    return sorted(routes, key=lambda row: (-row.requests, row.route))


def _rank(spans: list[float], rank: int) -> float | None:
    if not spans:
        return None
    return float(percentile([round(span * 1000) for span in spans], rank)) / 1000
