"""Per-route figures from what the local metrics sink wrote: requests, rate, latency
percentiles and errors per route, busiest first; values after the window's end ignored."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from retouch.admin.routes_metrics import summarise
from retouch.core.metrics_local import LocalFileSink, read_metrics

NOW = datetime(2026, 12, 5, 12, tzinfo=timezone.utc)


def test_each_route_is_summed_from_the_sinks_file(tmp_path: Path) -> None:
    clock = iter([NOW.timestamp() - 60.0] * 40 + [NOW.timestamp() + 60.0] * 4)
    sink = LocalFileSink(tmp_path / "m.jsonl", namespace="Retouch", clock=lambda: next(clock))
    requests = [("GET /v1/tasks", 10.0 * n, 200) for n in range(1, 10)] + [
        ("POST /v1/tasks", 5.0, 500)
    ]
    requests.append(("GET /v1/tasks", 999.0, 200))  # after the window's end
    for route, latency, status in requests:
        dimensions = {"route": route, "service": "retouch"}
        sink.record("Requests", 1, "Count", dimensions)
        sink.record("Latency", latency, "Milliseconds", dimensions)
        sink.record("Errors4xx", int(400 <= status < 500), "Count", dimensions)
        sink.record("Errors5xx", int(status >= 500), "Count", dimensions)
    sink.flush()

    rows = summarise(read_metrics(tmp_path / "m.jsonl"), seconds=3600, until=NOW)

    assert [row.route for row in rows] == ["GET /v1/tasks", "POST /v1/tasks"]
    tasks, create = rows
    assert (tasks.requests, tasks.latency_ms_p50, tasks.latency_ms_p95) == (9, 50.0, 90.0)
    assert tasks.requests_per_s == round(9 / 3600, 4) and tasks.error_rate == 0
    assert (create.errors_5xx, create.error_rate) == (1, 1.0)
