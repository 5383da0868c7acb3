"""A loopback stand-in for the Tencent Cloud Monitor API (2018-07-24): `PutMonitorData`, and
the reads the SCF monitor makes, `GetMonitorData` and `DescribeBaseMetrics`.

It verifies each call's TC3-HMAC-SHA256 signature (`tencent_sts_fake.tc3_signature_error`),
the action and version headers, and the documented fields: for PutMonitorData 1 to 30 metric
/ value pairs, a name and an integer each, a timestamp within the last 300 s; for
GetMonitorData a namespace, one metric name, 1 to 10 instances of dimensions, a period of 60
or 300 s and ISO 8601 start and end times, at most 1440 points. It records the accepted calls
and answers in the documented response shapes. What was put is what is read: every pair is a
point of its metric at its minute, for the announcing instance (two pairs of one minute are
summed: how the real service combines the reports of concurrent instances is not documented).
`mode` makes it fail: `"500"` answers HTTP 500, `"hang"` answers after `hang_s`,
`"api-error"` answers an API error.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration.cos_fake import SECRET_ID, SECRET_KEY, serving
from tests.integration.tencent_sts_fake import tc3_signature_error

__all__ = [
    "SECRET_ID",
    "SECRET_KEY",
    "FakeCloudMonitor",
    "role_environment",
    "running_fake_cloud_monitor",
]

MAX_PER_CALL = 30
#: GetMonitorData answers at most this many points per call.
MAX_POINTS = 1440


@dataclass
class MonitorCall:
    """One accepted PutMonitorData call: its body, region and session token."""

    body: dict[str, Any]
    region: str
    token: str | None


@dataclass
class FakeCloudMonitor:
    calls: list[MonitorCall] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    mode: str = "ok"
    hang_s: float = 3.0
    url: str = ""

    namespace: str = "QCE/CUSTOM"
    #: {(instance, metric name): {minute: value}}: what PutMonitorData stored.
    points: dict[tuple[str, str], dict[int, float]] = field(default_factory=dict)
    reads: list[dict[str, Any]] = field(default_factory=list)

    def put(self, instance: str, name: str, minute: int, value: float) -> None:
        """Store a point as an accepted PutMonitorData would."""
        series = self.points.setdefault((instance, name), {})
        series[minute] = series.get(minute, 0) + value

    def values(self) -> dict[str, float]:
        """Every reported metric name with its value (the last one reported)."""
        return {m["MetricName"]: m["Value"] for call in self.calls for m in call.body["Metrics"]}


def _field_error(body: dict[str, Any]) -> str | None:
    metrics = body.get("Metrics")
    if not isinstance(metrics, list) or not 1 <= len(metrics) <= MAX_PER_CALL:
        return f"Metrics must hold 1 to {MAX_PER_CALL} pairs"
    for metric in metrics:
        if not isinstance(metric.get("MetricName"), str) or not metric["MetricName"]:
            return "MetricName missing"
        value = metric.get("Value")
        if not isinstance(value, int) or isinstance(value, bool):
            return "Value must be an integer"
    stamp = body.get("AnnounceTimestamp")
    if not isinstance(stamp, int) or not time.time() - 300 <= stamp <= time.time():
        return "AnnounceTimestamp must be within the last 300 seconds"
    return None


def _read_error(fake: FakeCloudMonitor, body: dict[str, Any]) -> str | None:
    """GetMonitorData's documented request fields and limits."""
    if body.get("Namespace") != fake.namespace:
        return f"Namespace must be {fake.namespace}"
    if not isinstance(body.get("MetricName"), str) or not body["MetricName"]:
        return "MetricName missing"
    instances = body.get("Instances")
    if not isinstance(instances, list) or not 1 <= len(instances) <= 10:
        return "Instances must hold 1 to 10 instances"
    for instance in instances:
        dimensions = instance.get("Dimensions") if isinstance(instance, dict) else None
        if not dimensions or not all({"Name", "Value"} <= set(d) for d in dimensions):
            return "an instance is a list of Dimensions {Name, Value}"
    if body.get("Period") not in (60, 300):
        return "Period must be 60 or 300"
    try:
        start, end = _time(body["StartTime"]), _time(body["EndTime"])
    except (KeyError, TypeError, ValueError):
        return "StartTime and EndTime must be ISO 8601 times with an offset"
    if not start < end or (end - start) / body["Period"] > MAX_POINTS:
        return f"the range must be positive and hold at most {MAX_POINTS} points"
    return None


def _time(value: str) -> float:
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError("no offset")
    return moment.timestamp()


def _read(fake: FakeCloudMonitor, body: dict[str, Any]) -> dict[str, Any]:
    """GetMonitorData's answer: per instance, the points of the metric within the range."""
    start, end = _time(body["StartTime"]), _time(body["EndTime"])
    points = []
    for instance in body["Instances"]:
        value = next((d["Value"] for d in instance["Dimensions"] if d["Name"] == "InstanceId"), "")
        series = fake.points.get((value, body["MetricName"]), {})
        minutes = sorted(m for m in series if start <= m <= end)
        points.append(
            {
                "Dimensions": instance["Dimensions"],
                "Timestamps": minutes,
                "Values": [series[m] for m in minutes],
            }
        )
    return {
        "Period": body["Period"],
        "MetricName": body["MetricName"],
        "DataPoints": points,
        "StartTime": body["StartTime"],
        "EndTime": body["EndTime"],
        "Msg": "",
    }


def _list_error(fake: FakeCloudMonitor, body: dict[str, Any]) -> str | None:
    return None if body.get("Namespace") == fake.namespace else "Namespace not found"


def _list(fake: FakeCloudMonitor, body: dict[str, Any]) -> dict[str, Any]:
    """DescribeBaseMetrics' answer: every metric name stored, in the namespace."""
    names = sorted({name for _, name in fake.points})
    metrics = [
        {"Namespace": fake.namespace, "MetricName": name, "Unit": "", "Period": [60, 300]}
        for name in names
    ]
    return {"MetricSet": metrics}


READS: dict[str, tuple[Any, Any]] = {
    "GetMonitorData": (_read_error, _read),
    "DescribeBaseMetrics": (_list_error, _list),
}


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        fake = self.server.fake
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        if fake.mode == "hang":
            time.sleep(fake.hang_s)
        if fake.mode == "500":
            self._answer(500, b"internal error")
            return
        error = tc3_signature_error(headers, body)
        action = headers.get("x-tc-action", "")
        if error is None and action not in ("PutMonitorData", *READS):
            error = "InvalidAction"
        if error is None and headers.get("x-tc-version") != "2018-07-24":
            error = "InvalidVersion"
        parsed = json.loads(body) if error is None else {}
        if error is None and action in READS:
            error = READS[action][0](fake, parsed)
        elif error is None:
            error = _field_error(parsed)
        if error is None and fake.mode == "api-error":
            error = "RequestLimitExceeded"
        response: dict[str, Any]
        if error is not None:
            fake.refused.append(error)
            response = {"Error": {"Code": "InvalidParameter", "Message": error}}
        elif action in READS:
            fake.reads.append({"action": action, **parsed, "region": headers.get("x-tc-region")})
            response = READS[action][1](fake, parsed)
        else:
            call = MonitorCall(parsed, headers.get("x-tc-region", ""), headers.get("x-tc-token"))
            fake.calls.append(call)
            for metric in parsed["Metrics"]:
                instance = parsed.get("AnnounceInstance", "")
                fake.put(
                    instance, metric["MetricName"], parsed["AnnounceTimestamp"], metric["Value"]
                )
            response = {}
        response["RequestId"] = secrets.token_hex(8)
        self._answer(200, json.dumps({"Response": response}).encode())

    def _answer(self, status: int, data: bytes) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (a timeout test)


class _Server(ThreadingHTTPServer):
    fake: FakeCloudMonitor
    daemon_threads = True


def role_environment(monkeypatch: Any, *, token: str, region: str) -> None:
    """The execution role's keys and the region, as SCF sets them in a function's environment."""
    monkeypatch.setenv("TENCENTCLOUD_SECRETID", SECRET_ID)
    monkeypatch.setenv("TENCENTCLOUD_SECRETKEY", SECRET_KEY)
    monkeypatch.setenv("TENCENTCLOUD_SESSIONTOKEN", token)
    monkeypatch.setenv("TENCENTCLOUD_REGION", region)


@contextmanager
def running_fake_cloud_monitor() -> Iterator[FakeCloudMonitor]:
    """A fake Cloud Monitor API on a free loopback port; `url` is its endpoint."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeCloudMonitor()
    with serving(server) as url:
        server.fake.url = url
        yield server.fake
