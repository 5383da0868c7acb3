"""The metrics port: the recorder's batching and flush policy, a failing sink, the EMF lines,
the local sink, and which sink the settings choose."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from retouch.core.metrics import (
    NAMESPACE,
    MetricUnit,
    NullSink,
    Recorder,
    emit,
    end_invocation,
    flushing_metrics,
    get_recorder,
    record_invocation,
    reset_recorder,
)
from retouch.core.metrics_emf import EmfSink
from retouch.core.metrics_local import LocalFileSink, read_metrics
from retouch.core.metrics_tencent import CloudMonitorSink, metric_name
from retouch.core.settings import SettingsError, get_settings
from retouch.providers.metrics import BREAKER_OPENED, count_breaker_opened
from retouch.tasks.metrics import TASKS_FINISHED, count_finished
from tests.conftest import LogLines
from tests.fakes.metrics import MemorySink

SERVICE = {"service": "retouch"}


def emf_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]


@pytest.fixture
def sink() -> Any:
    memory = MemorySink()
    reset_recorder(Recorder(memory))
    yield memory
    reset_recorder()


def test_emit_buffers_until_the_invocation_ends(sink: MemorySink) -> None:
    emit("TasksFinished", 1, feature="cutout", status="succeeded")
    emit("ProviderLatency", 12.5, unit=MetricUnit.Milliseconds, provider="tencent")
    assert sink.flushed == []

    end_invocation()

    assert sink.flushed == [
        [
            ("TasksFinished", 1, "Count", {**SERVICE, "feature": "cutout", "status": "succeeded"}),
            ("ProviderLatency", 12.5, "Milliseconds", {**SERVICE, "provider": "tencent"}),
        ]
    ]


def test_an_interval_flushes_at_most_that_often_or_when_the_batch_is_full() -> None:
    now = [0.0]
    memory = MemorySink()
    recorder = Recorder(memory, flush_interval_s=15, max_pending=3, clock=lambda: now[0])

    recorder.record("Requests", 1, "Count", SERVICE)
    recorder.end_invocation()  # the instance's first invocation: flushed
    assert [len(batch) for batch in memory.flushed] == [1]
    recorder.record("Requests", 1, "Count", SERVICE)
    now[0] = 5.0
    recorder.end_invocation()  # not due: 5 s since the last flush, one record
    assert [len(batch) for batch in memory.flushed] == [1]
    for _ in range(2):
        recorder.record("Requests", 1, "Count", SERVICE)
    recorder.end_invocation()  # due: the batch is full
    assert [len(batch) for batch in memory.flushed] == [1, 3]
    recorder.record("Requests", 1, "Count", SERVICE)
    now[0] = 21.0
    recorder.end_invocation()  # due: 16 s since the last flush
    assert [len(batch) for batch in memory.flushed] == [1, 3, 1]
    recorder.end_invocation()  # nothing pending: no flush
    assert len(memory.flushed) == 3


def test_a_failing_sink_never_raises_and_is_logged_and_counted(log_lines: LogLines) -> None:
    memory = MemorySink(failing=True)
    recorder = Recorder(memory)
    recorder.record("Requests", 1, "Count", SERVICE)

    @flushing_metrics
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {"ok": True}

    reset_recorder(recorder)
    try:
        assert handler({}, None) == {"ok": True}
    finally:
        reset_recorder(Recorder(NullSink()))

    assert recorder.failures >= 1
    assert log_lines.with_message("metrics flush failed")[0]["sink"] == "MemorySink"
    memory.failing = False
    recorder.flush()
    assert ("MetricsFlushFailures", 1, "Count", SERVICE) in memory.delivered()


def test_a_cold_start_is_counted_once_and_memory_sampled_at_most_once_a_minute(
    sink: MemorySink,
) -> None:
    record_invocation(cold_start=True, function="retouch-dev-health")
    record_invocation(cold_start=False, function="retouch-dev-health")
    end_invocation()

    dimensions = {**SERVICE, "function": "retouch-dev-health"}
    values = sink.delivered()
    assert [v for v in values if v[0] == "ColdStart"] == [("ColdStart", 1, "Count", dimensions)]
    [memory] = [v for v in values if v[0] == "MemoryUsedMb"]
    assert memory[2:] == ("Megabytes", dimensions)
    assert 10 < memory[1] < 4096  # this test process's peak RSS, in MB


def test_a_handler_that_raises_still_flushes(sink: MemorySink) -> None:
    @flushing_metrics
    def handler(event: dict[str, Any], context: Any) -> None:
        emit("Callbacks", 1, outcome="rejected")
        raise ValueError("bad event")

    with pytest.raises(ValueError, match="bad event"):
        handler({}, None)

    assert [name for name, *_ in sink.delivered()] == ["Callbacks"]


def test_emf_lines_group_one_dimension_set_and_keep_each_emit_its_own_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emf = EmfSink(NAMESPACE)
    route = {"route": "GET /v1/health", **SERVICE}
    emf.record("TasksFinished", 1, "Count", {**SERVICE, "feature": "cutout"})
    emf.record("Requests", 1, "Count", route)
    emf.record("TasksFinished", 1, "Count", {**SERVICE, "feature": "cutout"})
    emf.record("Latency", 3.5, "Milliseconds", route)
    capsys.readouterr()

    emf.flush()

    lines = emf_lines(capsys)
    assert [line.get("route", line.get("feature")) for line in lines] == [
        "cutout",
        "GET /v1/health",
        "cutout",
    ]
    assert lines[1]["Requests"] == [1.0] and lines[1]["Latency"] == [3.5]
    directive = lines[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "Retouch"
    assert directive["Dimensions"] == [["service", "feature"]]
    assert lines[1]["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["route", "service"]]
    emf.flush()
    assert emf_lines(capsys) == []


def test_the_local_sink_appends_json_lines_the_console_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "metrics" / "metrics.jsonl"
    now = [1000.0]
    local = LocalFileSink(path, namespace=NAMESPACE, max_bytes=4096, clock=lambda: now[0])
    local.record("Requests", 1, "Count", {"route": "GET /v1/health", **SERVICE})
    local.flush()
    now[0] = 2000.0
    local.record("CreditsCharged", 4, "Count", {**SERVICE, "feature": "cutout"})
    local.flush()

    values = read_metrics(path)
    assert [(v["name"], v["value"], v["time"]) for v in values] == [
        ("Requests", 1, 1000.0),
        ("CreditsCharged", 4, 2000.0),
    ]
    assert values[0]["dimensions"] == {"route": "GET /v1/health", **SERVICE}
    assert [v["name"] for v in read_metrics(path, since=1500)] == ["CreditsCharged"]


def test_the_local_file_is_rotated_past_its_size_and_still_read(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    local = LocalFileSink(path, namespace=NAMESPACE, max_bytes=4096)
    for index in range(60):
        local.record(f"Metric{index}", index, "Count", SERVICE)
    local.flush()
    local.record("After", 1, "Count", SERVICE)
    local.flush()

    assert path.with_name("metrics.jsonl.1").exists()
    assert path.stat().st_size < 4096
    assert [v["name"] for v in read_metrics(path)][-2:] == ["Metric59", "After"]


def test_cloud_monitor_names_carry_the_dimensions_in_plain_characters() -> None:
    name = metric_name("Requests", {"route": "POST /v1/tasks/{task_id}/cancel", **SERVICE})
    assert name == "Requests_route_POST_v1_tasks_task_id_cancel"
    assert (
        metric_name("X", {"k": "é" * 300}).startswith("X_k")
        and len(metric_name("X", {"k": "a" * 300})) == 128
    )


@pytest.mark.parametrize(
    ("environment", "sink_type"),
    [
        ({}, EmfSink),
        ({"TENCENTCLOUD_RUNENV": "SCF"}, CloudMonitorSink),
        ({"RETOUCH_METRICS_SINK": "emf", "TENCENTCLOUD_RUNENV": "SCF"}, EmfSink),
        ({"RETOUCH_METRICS_SINK": "local"}, LocalFileSink),
        ({"RETOUCH_METRICS_SINK": "none"}, NullSink),
    ],
)
def test_the_sink_is_chosen_by_setting_else_by_platform(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], sink_type: type
) -> None:
    monkeypatch.delenv("TENCENTCLOUD_RUNENV", raising=False)
    monkeypatch.delenv("SCF_FUNCTIONNAME", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    reset_recorder()
    try:
        recorder = get_recorder()
        assert isinstance(recorder.sink, sink_type)
        expected_interval = 15.0 if sink_type is CloudMonitorSink else 0.0
        assert recorder.flush_interval_s == expected_interval
    finally:
        reset_recorder()
        get_settings.cache_clear()


def test_an_unknown_sink_is_refused_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETOUCH_METRICS_SINK", "cloudwatch")
    get_settings.cache_clear()
    try:
        with pytest.raises(SettingsError, match="RETOUCH_METRICS_SINK"):
            get_settings()
    finally:
        get_settings.cache_clear()


def test_a_finished_task_is_also_counted_by_status_alone_for_the_alarm(sink: MemorySink) -> None:
    count_finished(feature="cutout", status="failed", credits=4)
    end_invocation()

    finished = [(n, v, d) for n, v, _, d in sink.delivered() if n == TASKS_FINISHED]
    assert finished == [
        (TASKS_FINISHED, 1, {**SERVICE, "feature": "cutout", "status": "failed"}),
        (TASKS_FINISHED, 1, {**SERVICE, "status": "failed"}),
    ]


def test_an_opened_breaker_is_also_counted_without_its_provider_for_the_alarm(
    sink: MemorySink,
) -> None:
    count_breaker_opened(provider="tencent")
    end_invocation()

    assert sink.delivered() == [
        (BREAKER_OPENED, 1, "Count", {**SERVICE, "provider": "tencent"}),
        (BREAKER_OPENED, 1, "Count", SERVICE),
    ]


def test_an_emf_line_is_the_object_powertools_writes_for_the_same_metrics(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
        AmazonCloudWatchEMFProvider,
    )

    dimensions = {"route": "GET /v1/me", **SERVICE}
    metrics = [("Requests", 1, "Count"), ("Latency", 2.25, "Milliseconds")]
    provider = AmazonCloudWatchEMFProvider(namespace=NAMESPACE, service="retouch")
    for name, dimension in dimensions.items():
        provider.add_dimension(name=name, value=dimension)
    for name, value, unit in metrics:
        provider.add_metric(name=name, unit=unit, value=value)
    provider.flush_metrics()
    emf = EmfSink(NAMESPACE)
    for name, value, unit in metrics:
        emf.record(name, value, unit, dimensions)
    emf.flush()

    theirs, ours = emf_lines(capsys)
    for line in (theirs, ours):
        assert line["_aws"].pop("Timestamp") > 0
    assert json.dumps(ours) == json.dumps(theirs)


def test_emf_lines_stay_silent_when_powertools_metrics_are_disabled(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    emf = EmfSink(NAMESPACE)
    emf.record("Requests", 1, "Count", SERVICE)
    capsys.readouterr()

    emf.flush()

    assert emf_lines(capsys) == []
    emf.flush()  # the batch was dropped, not kept for later
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    emf.flush()
    assert emf_lines(capsys) == []
