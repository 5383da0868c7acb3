"""The alert inputs of the HTTP and backup kinds on SCF, read back from Tencent Cloud Monitor
(`GetMonitorData`, `DescribeBaseMetrics`) against the loopback fake of the API, which checks
each call's TC3-HMAC-SHA256 signature, action, version and fields: what the SCF metrics sink
put is what the monitor reads. A route's 5xx rate and p95 over the window, points outside it
left out, backup failures summed, a refusing API an unavailable input; and the monitor job on
SCF firing a DingTalk alert from those figures, end to end on the real MariaDB and Redis."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from retouch.alerts.inputs import InputUnavailable, Observation
from retouch.alerts.rules import AlertRule
from retouch.alerts.tencent_monitor import CloudMonitorInputs
from retouch.bootstrap.clients import reset_clients
from retouch.core.metrics_tencent import CloudMonitorSink
from scripts.local.alert_sinks import alert_env, smtp_sink, webhook_sink
from scripts.local.lambda_runtime import load_function
from tests.conftest import Stack
from tests.integration.alerts.alerts_support import only_rules
from tests.integration.tencent_monitor_fake import (
    FakeCloudMonitor,
    role_environment,
    running_fake_cloud_monitor,
)

pytestmark = pytest.mark.integration

TOKEN, REGION, INSTANCE = "role-session-token", "ap-shanghai", "Retouch"
SIGNING = "SEC-local-robot-secret-0123456789abcdef"


@pytest.fixture
def monitor(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCloudMonitor]:
    """The fake API, and the role keys and region SCF sets in a function's environment."""
    role_environment(monkeypatch, token=TOKEN, region=REGION)
    with running_fake_cloud_monitor() as fake:
        yield fake


def inputs(fake: FakeCloudMonitor) -> CloudMonitorInputs:
    return CloudMonitorInputs(
        namespace=fake.namespace, instance=INSTANCE, region=REGION, endpoint=fake.url
    )


def requests(fake: FakeCloudMonitor, route: str, statuses: list[int], latency_ms: float) -> None:
    """What the HTTP middleware records per request, flushed by the SCF sink."""
    sink = CloudMonitorSink(namespace=INSTANCE, region=REGION, endpoint=fake.url)
    dimensions = {"route": route, "service": "retouch"}
    for status in statuses:
        sink.record("Requests", 1, "Count", dimensions)
        sink.record("Latency", latency_ms, "Milliseconds", dimensions)
        sink.record("Errors5xx", int(status >= 500), "Count", dimensions)
    sink.flush()
    assert fake.refused == []


def now() -> datetime:
    return datetime.now(timezone.utc)


def test_the_5xx_rate_per_route_is_read_back_signed_from_what_the_sink_put(
    monitor: FakeCloudMonitor,
) -> None:
    # GIVEN 4 requests to one route (1 a 500) and 2 to another, reported by the sink; and an
    # hour-old burst of 500s, outside the window
    requests(monitor, "POST /v1/tasks", [200, 200, 500, 201], 40)
    requests(monitor, "GET /v1/me", [200, 200], 10)
    old = int(now().timestamp()) // 60 * 60 - 3600
    monitor.put(INSTANCE, "Requests_route_GET_v1_me", old, 3)
    monitor.put(INSTANCE, "Errors5xx_route_GET_v1_me", old, 3)

    # WHEN the monitor reads the 5xx rate over five minutes
    source = inputs(monitor)
    observed = source.observe("http_5xx_rate", window_s=300, now=now())

    # THEN each route's rate rests on the window's requests only
    assert observed == {
        "POST_v1_tasks": Observation(0.25, 4),
        "GET_v1_me": Observation(0.0, 2),
    }
    # every call was accepted (signature, action, version, fields), in the region, for the
    # instance the sink announces, in one-minute periods over the window
    assert monitor.refused == []
    reads = [r for r in monitor.reads if r["action"] == "GetMonitorData"]
    assert {r["MetricName"] for r in reads} == {
        "Requests_route_POST_v1_tasks",
        "Requests_route_GET_v1_me",
        "Errors5xx_route_POST_v1_tasks",
        "Errors5xx_route_GET_v1_me",
    }
    for read in reads:
        assert read["Instances"] == [{"Dimensions": [{"Name": "InstanceId", "Value": INSTANCE}]}]
        assert (read["Period"], read["region"]) == (60, REGION)
        span = datetime.fromisoformat(read["EndTime"]) - datetime.fromisoformat(read["StartTime"])
        assert span.total_seconds() == 300
    # the namespace was listed once for the run
    assert [r["action"] for r in monitor.reads].count("DescribeBaseMetrics") == 1


def test_the_p95_per_route_is_the_sinks_per_minute_p95(monitor: FakeCloudMonitor) -> None:
    # GIVEN 100 requests to a route taking 1 … 100 ms, in one minute
    sink = CloudMonitorSink(namespace=INSTANCE, region=REGION, endpoint=monitor.url)
    dimensions = {"route": "GET /v1/tasks/{task_id}", "service": "retouch"}
    for latency in range(1, 101):
        sink.record("Requests", 1, "Count", dimensions)
        sink.record("Latency", float(latency), "Milliseconds", dimensions)
    sink.flush()

    observed = inputs(monitor).observe("http_p95_latency_ms", window_s=300, now=now())

    # THEN the nearest-rank p95 (95 ms), on the route's 100 requests; the mean is still sent
    assert observed == {"GET_v1_tasks_task_id": Observation(95.0, 100)}
    assert monitor.values()["Latency_route_GET_v1_tasks_task_id"] == 50  # round(50.5)


def test_backup_failures_are_summed_over_the_window(monitor: FakeCloudMonitor) -> None:
    minute = int(now().timestamp()) // 60 * 60
    monitor.put(INSTANCE, "BackupFailed", minute - 600, 1)
    monitor.put(INSTANCE, "BackupFailed", minute - 7200, 1)
    monitor.put(INSTANCE, "BackupFailed", minute - 2 * 86_400, 1)  # two days before
    monitor.put(INSTANCE, "BackupVerifyFailed", minute - 2 * 86_400, 1)

    observed = inputs(monitor).observe("backup_failed", window_s=86_400, now=now())

    assert observed == {"BackupFailed": Observation(2.0)}


def test_nothing_reported_observes_nothing(monitor: FakeCloudMonitor) -> None:
    source = inputs(monitor)
    for kind in ("http_5xx_rate", "http_p95_latency_ms", "backup_failed"):
        assert source.observe(kind, window_s=300, now=now()) == {}
    assert monitor.refused == []


@pytest.mark.parametrize("mode", ["500", "api-error", "bad-key", "no-keys"])
def test_a_refusing_api_is_an_unavailable_input(
    monitor: FakeCloudMonitor, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    requests(monitor, "GET /v1/me", [500], 10)
    if mode == "bad-key":
        monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", "not-the-key")
    elif mode == "no-keys":
        monkeypatch.delenv("TENCENTCLOUD_SECRETID")
        monkeypatch.delenv("TENCENTCLOUD_SECRETKEY")
    else:
        monitor.mode = mode

    with pytest.raises(InputUnavailable, match="http_5xx_rate: cloud monitor"):
        inputs(monitor).observe("http_5xx_rate", window_s=300, now=now())


def test_the_monitor_job_on_scf_alerts_from_cloud_monitor_figures(
    stack: Stack, monitor: FakeCloudMonitor, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the monitor function deployed on SCF (its runtime's variables, the Tencent sink,
    # the fake's endpoint) with one rule: a route's 5xx rate at 50 % over 2 requests
    rule = AlertRule(
        key="route_errors",
        kind="http_5xx_rate",
        summary_zh="路由错误率过高",
        summary_en="Route error rate high",
        threshold=0.5,
        min_samples=2,
        cooldown_s=600,
    )
    with webhook_sink(SIGNING) as webhooks, smtp_sink() as mail:
        for name, value in alert_env(webhooks, mail).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("RETOUCH_ALERTS_LANGUAGE", "en")
        monkeypatch.setenv("SCF_FUNCTIONNAME", "retouch-monitor")
        monkeypatch.setenv("RETOUCH_METRICS_SINK", "tencent")
        monkeypatch.setenv("RETOUCH_METRICS_TENCENT_ENDPOINT", monitor.url)
        reset_clients()
        only_rules(rule)
        # WHEN an SCF HTTP function reported 3 requests to a route, 2 of them 500s, and the
        # timer runs the monitor
        requests(monitor, "POST /v1/tasks", [500, 200, 503], 25)
        handler = load_function("functions/jobs/monitor/app.py").main_handler
        outcome = handler({"Type": "Timer"}, {"function_name": "retouch-monitor"})

        # THEN the rule fired from Cloud Monitor's figures: DingTalk and email heard it
        dingtalk = webhooks.of("dingtalk")
        assert outcome["sent"] >= 1, outcome
        assert len(dingtalk) == 1 and len(mail.messages) == 1
        text = dingtalk[0]["markdown"]["text"]
        assert "Route error rate high" in text and "POST_v1_tasks" in text
    assert any(r.get("MetricName") == "Errors5xx_route_POST_v1_tasks" for r in monitor.reads)
    reset_clients()
