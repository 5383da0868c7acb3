"""A loopback stand-in for the Tencent Cloud Monitor API's `PutMonitorData` (2018-07-24).

It verifies each call's TC3-HMAC-SHA256 signature (`tencent_sts_fake.tc3_signature_error`),
the action and version headers, and the documented limits of the request (1 to 30 metric /
value pairs, a name and an integer each, a timestamp within the last 300 s); it records the
accepted calls and answers in the documented response shape. `mode` makes it fail: `"500"`
answers HTTP 500, `"hang"` answers after `hang_s`, `"api-error"` answers an API error.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration.cos_fake import SECRET_ID, SECRET_KEY, serving
from tests.integration.tencent_sts_fake import tc3_signature_error

__all__ = ["SECRET_ID", "SECRET_KEY", "FakeCloudMonitor", "running_fake_cloud_monitor"]

MAX_PER_CALL = 30


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
        if error is None and headers.get("x-tc-action") != "PutMonitorData":
            error = "InvalidAction"
        if error is None and headers.get("x-tc-version") != "2018-07-24":
            error = "InvalidVersion"
        parsed = json.loads(body) if error is None else {}
        error = error or _field_error(parsed)
        if error is None and fake.mode == "api-error":
            error = "RequestLimitExceeded"
        if error is not None:
            fake.refused.append(error)
            response: dict[str, Any] = {"Error": {"Code": "InvalidParameter", "Message": error}}
        else:
            fake.calls.append(
                MonitorCall(parsed, headers.get("x-tc-region", ""), headers.get("x-tc-token"))
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


@contextmanager
def running_fake_cloud_monitor() -> Iterator[FakeCloudMonitor]:
    """A fake Cloud Monitor API on a free loopback port; `url` is its endpoint."""
    server = _Server(("127.0.0.1", 0), _Handler)
    server.fake = FakeCloudMonitor()
    with serving(server) as url:
        server.fake.url = url
        yield server.fake
