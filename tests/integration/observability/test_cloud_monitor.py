"""The Tencent Cloud Monitor sink against a loopback fake of `PutMonitorData` that checks the
TC3-HMAC-SHA256 signature and the request's fields as the real API does; and an SCF HTTP
function whose metrics go there, whose answer never depends on that API."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from retouch.core.metrics import Recorder, get_recorder, reset_recorder
from retouch.core.metrics_tencent import CloudMonitorError, CloudMonitorSink
from tests.conftest import FakeLambdaContext, LogLines, Stack, load_event, load_function
from tests.integration.tencent_monitor_fake import (
    FakeCloudMonitor,
    role_environment,
    running_fake_cloud_monitor,
)

pytestmark = pytest.mark.integration

TOKEN, REGION = "role-session-token", "ap-shanghai"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@pytest.fixture
def monitor(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloudMonitor]:
    """The fake API, and the role keys and region SCF sets in a function's environment."""
    role_environment(monkeypatch, token=TOKEN, region=REGION)
    with running_fake_cloud_monitor() as fake:
        yield fake


def sink(fake: FakeCloudMonitor, *, timeout_s: float = 1.0) -> CloudMonitorSink:
    return CloudMonitorSink(
        namespace="Retouch", region=REGION, endpoint=fake.url, timeout_s=timeout_s
    )


def test_a_batch_goes_out_signed_in_calls_of_at_most_thirty(monitor: FakeCloudMonitor) -> None:
    # GIVEN 75 distinct metrics, each recorded twice within one minute
    cloud = sink(monitor)
    names = [f"Metric{index}" for index in range(75)]
    for name in names:
        cloud.record(name, 1, "Count", {"service": "retouch", "feature": "cutout"})
        cloud.record(name, 2, "Count", {"service": "retouch", "feature": "cutout"})

    # WHEN the batch is flushed
    cloud.flush()

    # THEN the API accepted (signature, action, version, fields) ceil(75/30) calls, each with
    # the namespace as the instance, one whole-minute timestamp, the region and the token
    assert monitor.refused == []
    assert len(monitor.calls) == math.ceil(75 / 30) == cloud.calls
    for call in monitor.calls:
        assert call.body["AnnounceInstance"] == "Retouch"
        assert call.body["AnnounceTimestamp"] % 60 == 0
        assert time.time() - 120 < call.body["AnnounceTimestamp"] <= time.time()
        assert (call.region, call.token) == (REGION, TOKEN)
    # counts summed per minute, the dimension in the name, the service left out
    assert monitor.values() == {f"{name}_feature_cutout": 3 for name in names}


def test_latencies_are_averaged_and_routes_named_in_letters_digits_and_underscores(
    monitor: FakeCloudMonitor,
) -> None:
    cloud = sink(monitor)
    route = {"route": "GET /v1/tasks/{task_id}", "service": "retouch"}
    for latency in (10.0, 20.0, 60.0):
        cloud.record("Latency", latency, "Milliseconds", route)
        cloud.record("Requests", 1, "Count", route)

    cloud.flush()

    assert monitor.values() == {
        "Latency_route_GET_v1_tasks_task_id": 30.0,
        "LatencyP95_route_GET_v1_tasks_task_id": 60,  # nearest-rank p95 of the minute
        "Requests_route_GET_v1_tasks_task_id": 3,
    }


def test_a_request_signed_with_another_key_is_refused_and_reported(
    monitor: FakeCloudMonitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "not-the-key")
    cloud = sink(monitor)
    cloud.record("Requests", 1, "Count", {"service": "retouch"})

    with pytest.raises(CloudMonitorError, match="signature mismatch"):
        cloud.flush()

    assert monitor.calls == []
    assert cloud.dropped == 1


def test_values_too_old_for_the_api_are_dropped_and_counted(monitor: FakeCloudMonitor) -> None:
    now = [time.time() - 600]
    cloud = CloudMonitorSink(
        namespace="Retouch", region=REGION, endpoint=monitor.url, clock=lambda: now[0]
    )
    cloud.record("Stale", 1, "Count", {"service": "retouch"})
    now[0] = time.time()
    cloud.record("Fresh", 1, "Count", {"service": "retouch"})

    cloud.flush()

    assert monitor.values() == {"Fresh": 1}
    assert cloud.dropped == 1


@pytest.fixture
def scf_health(
    stack: Stack, monitor: FakeCloudMonitor, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Handler]:
    """The health function on SCF, its metrics to the fake, flushed after every request."""
    monkeypatch.setenv("TENCENTCLOUD_RUNENV", "SCF")
    monkeypatch.setenv("RETOUCH_METRICS_TENCENT_ENDPOINT", monitor.url)
    monkeypatch.setenv("RETOUCH_METRICS_FLUSH_INTERVAL_S", "0")
    monkeypatch.setenv("RETOUCH_METRICS_FLUSH_TIMEOUT_S", "0.3")
    reset_recorder()
    yield load_function("functions/http/health/app.py").handler
    reset_recorder()


def test_on_scf_the_request_metrics_reach_cloud_monitor(
    scf_health: Handler, monitor: FakeCloudMonitor
) -> None:
    # WHEN the health function answers an SCF API Gateway event (no sink chosen: SCF's default)
    answer = scf_health(load_event("health_scf_apigw.json"), FakeLambdaContext())

    # THEN Cloud Monitor got the request's count, latency and error counts for its route
    assert answer["statusCode"] == 200
    assert isinstance(get_recorder().sink, CloudMonitorSink)
    reported = monitor.values()
    route = next(name for name in reported if name.startswith("Requests_route_GET_"))
    suffix = route.removeprefix("Requests")
    assert reported[route] == 1
    assert reported["Errors4xx" + suffix] == 0 and reported["Errors5xx" + suffix] == 0
    assert reported["Latency" + suffix] >= 0


@pytest.mark.parametrize("mode", ["500", "hang", "api-error"])
def test_a_failing_cloud_monitor_never_fails_the_request_and_is_logged(
    scf_health: Handler,
    monitor: FakeCloudMonitor,
    log_lines: LogLines,
    mode: str,
) -> None:
    # GIVEN Cloud Monitor answering 500, hanging past the timeout, or refusing the call
    monitor.mode, monitor.hang_s = mode, 2.0

    # WHEN a request is served and its metrics flushed
    started = time.perf_counter()
    answer = scf_health(load_event("health_scf_apigw.json"), FakeLambdaContext())
    elapsed = time.perf_counter() - started

    # THEN the answer is the ordinary one, not delayed past the timeout, the failure is
    # logged and counted, and the failure itself is a metric of the next batch
    assert answer["statusCode"] == 200
    assert elapsed < 1.5
    [warning] = log_lines.with_message("metrics flush failed")
    assert warning["sink"] == "CloudMonitorSink" and warning["level"] == "WARNING"
    recorder = get_recorder()
    assert recorder.failures == 1
    monitor.mode = "ok"
    recorder.flush()
    assert monitor.values()["MetricsFlushFailures"] == 1


def test_a_recorder_over_a_failing_sink_keeps_counting(monitor: FakeCloudMonitor) -> None:
    monitor.mode = "500"
    recorder = Recorder(sink(monitor))
    for _ in range(3):
        recorder.record("Requests", 1, "Count", {"service": "retouch"})
        recorder.end_invocation()

    assert recorder.failures == 3


def test_with_the_default_interval_warm_requests_make_no_call(
    stack: Stack, monitor: FakeCloudMonitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN an SCF health function with the default flush interval (15 s)
    monkeypatch.setenv("TENCENTCLOUD_RUNENV", "SCF")
    monkeypatch.setenv("RETOUCH_METRICS_TENCENT_ENDPOINT", monitor.url)
    reset_recorder()
    handler = load_function("functions/http/health/app.py").handler
    try:
        # WHEN it serves a first request, then five more at once
        handler(load_event("health_scf_apigw.json"), FakeLambdaContext())
        calls_after_first = len(monitor.calls)
        for _ in range(5):
            assert (
                handler(load_event("health_scf_apigw.json"), FakeLambdaContext())["statusCode"]
                == 200
            )

        # THEN only the first (the instance's first invocation) called Cloud Monitor; the
        # others' values wait in memory for the next due flush (here the recorder's reset),
        # and all six requests are counted
        assert calls_after_first == 1
        assert len(monitor.calls) == 1
    finally:
        reset_recorder()
    reported = [
        metric["Value"]
        for call in monitor.calls
        for metric in call.body["Metrics"]
        if metric["MetricName"].startswith("Requests_")
    ]
    assert sum(reported) == 6
