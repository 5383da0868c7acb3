"""Benchmark: what one request's metrics cost, before and after the metrics port, in one run.

    PYTHONPATH=layers/retouch .venv/bin/python -m scripts.bench.metrics_cost > /dev/null

Times the middleware's per-request metric set (Requests, Latency, Errors4xx, Errors5xx on one
`route` dimension) three ways, interleaved in 20 rounds of 1000 calls after a warm-up:

* the code before the port: Powertools' `Metrics` (add_dimension, 4 × add_metric,
  flush_metrics, clear_metrics), one EMF line printed;
* the port with the EMF sink, flushed at every invocation end (one EMF line, same bytes);
* the port with the Cloud Monitor sink when no flush is due (in-memory aggregation only).

stdout (the EMF lines) should go to /dev/null; the table is written to stderr. A measurement,
not a test; results in docs/observability.md.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit

from retouch.core.metrics import Recorder
from retouch.core.metrics_emf import EmfSink
from retouch.core.metrics_tencent import CloudMonitorSink

ROUTE = "GET /health/redis"


def before_the_port() -> Callable[[], None]:
    metrics = Metrics(namespace="Retouch", service="retouch")

    def request() -> None:
        metrics.add_dimension(name="route", value=ROUTE)
        metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=0.5)
        metrics.add_metric(name="Errors4xx", unit=MetricUnit.Count, value=0)
        metrics.add_metric(name="Errors5xx", unit=MetricUnit.Count, value=0)
        metrics.flush_metrics()
        metrics.clear_metrics()

    return request


def through(recorder: Recorder) -> Callable[[], None]:
    def request() -> None:
        dimensions = {"route": ROUTE, "service": "retouch"}
        recorder.record("Requests", 1, "Count", dimensions)
        recorder.record("Latency", 0.5, "Milliseconds", dimensions)
        recorder.record("Errors4xx", 0, "Count", dimensions)
        recorder.record("Errors5xx", 0, "Count", dimensions)
        recorder.end_invocation()

    return request


def main() -> None:
    cloud_monitor = Recorder(
        CloudMonitorSink(namespace="Retouch", region="ap-guangzhou", endpoint="http://127.0.0.1:9"),
        flush_interval_s=1e9,
    )
    cloud_monitor.flush()  # an empty flush: from now on no flush is ever due (no network)
    sides = {
        "before the port (Powertools Metrics)": before_the_port(),
        "port, EMF sink": through(Recorder(EmfSink("Retouch"))),
        "port, Cloud Monitor sink, not due": through(cloud_monitor),
    }
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for request in sides.values():
        for _ in range(2000):
            request()
    for _ in range(20):
        for name, request in sides.items():
            started = time.perf_counter_ns()
            for _ in range(1000):
                request()
            samples[name].append((time.perf_counter_ns() - started) / 1e6)
    print("| per request | median | min |\n| --- | ---: | ---: |", file=sys.stderr)
    for name, values in samples.items():
        median, least = statistics.median(values), min(values)
        print(f"| {name} | {median:.1f} µs | {least:.1f} µs |", file=sys.stderr)


if __name__ == "__main__":
    main()
