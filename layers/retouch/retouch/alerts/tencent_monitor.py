"""The HTTP and backup figures on SCF: Tencent Cloud Monitor's `GetMonitorData` over the
custom metrics the SCF sink reports (`core/metrics_tencent.py`, `PutMonitorData`).

The sink has no dimensions: `Requests` of route `GET /v1/health` is the metric
`Requests_route_GET_v1_health`, a minute's count summed per instance; `Errors5xx_route_…`
likewise; `LatencyP95_route_…` the minute's nearest-rank p95; `BackupFailed` and
`BackupVerifyFailed` the backup jobs' failures. So a subject here is the route as the metric
name spells it (`GET_v1_health`). The routes are what `DescribeBaseMetrics` lists under the
namespace (`Requests_route_…`), as CloudWatch's `ListMetrics` lists them on AWS.

Each figure is one `GetMonitorData` call (Cloud Monitor API 3.0, version 2018-07-24; one
metric per call) for the instance the sink announces, with one-minute periods over the
window: a count is the sum of its points, the p95 the highest minute's (no minute of the
window was slower at its 95th percentile). `Errors5xx` is asked for only of routes that had
requests. A call that fails (transport, HTTP status, API error, missing keys) makes the kind
unavailable this run, as CloudWatch's do. Calls are TC3-HMAC-SHA256-signed with the SCF
execution role's keys (`metrics_tencent.tc3_headers`), over httpx.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from retouch.alerts.inputs import Observation, read_figure
from retouch.alerts.rules import RuleKind
from retouch.core.metrics_tencent import P95_SUFFIX, CloudMonitorError, tc3_headers

VERSION = "2018-07-24"
#: The kinds Cloud Monitor answers on SCF; the others stay with the live inputs.
CLOUD_MONITOR_KINDS: frozenset[str] = frozenset(
    {"http_5xx_rate", "http_p95_latency_ms", "backup_failed"}
)
BACKUP_METRICS = ("BackupFailed", "BackupVerifyFailed")
ROUTE = "_route_"
PERIOD_S = 60
#: GetMonitorData answers at most 1440 points per call: a day of minutes.
MAX_WINDOW_S = 1440 * PERIOD_S


class CloudMonitorInputs:
    """`AlertInputs` of CLOUD_MONITOR_KINDS from Tencent Cloud Monitor (see the module)."""

    def __init__(
        self,
        *,
        namespace: str,
        instance: str,
        region: str,
        endpoint: str = "https://monitor.tencentcloudapi.com",
        timeout_s: float = 5.0,
    ) -> None:
        self.namespace, self.instance, self.region = namespace, instance, region
        self.endpoint, self.timeout_s = endpoint, timeout_s
        self.calls = 0
        self._names: list[str] | None = None
        self._client: httpx.Client | None = None

    def observe(self, kind: RuleKind, *, window_s: int, now: datetime) -> dict[str, Observation]:
        readers = {
            "http_5xx_rate": self._http_5xx_rate,
            "http_p95_latency_ms": self._http_p95,
            "backup_failed": self._backup_failures,
        }
        failures = (CloudMonitorError, httpx.HTTPError, ValueError)
        return read_figure("cloud monitor", readers, failures, kind, window_s=window_s, now=now)

    def _http_5xx_rate(self, window_s: int, now: datetime) -> dict[str, Observation]:
        answer = {}
        for route, requests in self._per_route("Requests", sum, window_s, now).items():
            if requests:
                errors = self._points(f"Errors5xx{ROUTE}{route}", window_s, now)
                answer[route] = Observation(sum(errors) / requests, int(requests))
        return answer

    def _http_p95(self, window_s: int, now: datetime) -> dict[str, Observation]:
        p95 = self._per_route("Latency" + P95_SUFFIX, max, window_s, now)
        requests = self._per_route("Requests", sum, window_s, now) if p95 else {}
        return {
            route: Observation(value, int(requests.get(route, 0))) for route, value in p95.items()
        }

    def _backup_failures(self, window_s: int, now: datetime) -> dict[str, Observation]:
        answer = {}
        for name in BACKUP_METRICS:
            failed = sum(self._points(name, window_s, now)) if name in self._listed() else 0
            if failed:
                answer[name] = Observation(failed)
        return answer

    def _per_route(
        self, prefix: str, combine: Any, window_s: int, now: datetime
    ) -> dict[str, float]:
        """{route: `combine` of metric `<prefix>_route_<route>`'s points}, for every listed
        route that has a point in the window."""
        found = {}
        for name in self._listed():
            if name.startswith(prefix + ROUTE):
                points = self._points(name, window_s, now)
                if points:
                    found[name.removeprefix(prefix + ROUTE)] = float(combine(points))
        return found

    def _listed(self) -> list[str]:
        """The namespace's metric names (`DescribeBaseMetrics`), asked once per run."""
        if self._names is None:
            response = self._call("DescribeBaseMetrics", {"Namespace": self.namespace})
            metrics = response.get("MetricSet") or []
            self._names = [str(m["MetricName"]) for m in metrics if m.get("MetricName")]
        return self._names

    def _points(self, name: str, window_s: int, now: datetime) -> list[float]:
        """The values of metric `name`'s one-minute points in the window (None left out)."""
        start = now - timedelta(seconds=min(max(window_s, PERIOD_S), MAX_WINDOW_S))
        response = self._call(
            "GetMonitorData",
            {
                "Namespace": self.namespace,
                "MetricName": name,
                "Instances": [{"Dimensions": [{"Name": "InstanceId", "Value": self.instance}]}],
                "Period": PERIOD_S,
                "StartTime": _iso(start),
                "EndTime": _iso(now),
            },
        )
        return [
            float(value)
            for point in response.get("DataPoints") or []
            for value in point.get("Values") or []
            if value is not None
        ]

    def _call(self, action: str, params: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(params, separators=(",", ":")).encode()
        headers = tc3_headers(
            endpoint=self.endpoint, action=action, version=VERSION, region=self.region, body=body
        )
        if self._client is None:
            self._client = httpx.Client(timeout=self.timeout_s, follow_redirects=False)
        response = self._client.post(self.endpoint + "/", content=body, headers=headers)
        self.calls += 1
        if response.status_code != 200:
            raise CloudMonitorError(f"{action}: HTTP {response.status_code}")
        answer = response.json().get("Response") or {}
        error = answer.get("Error")
        if error:
            raise CloudMonitorError(f"{action}: {error.get('Code')}")
        return dict(answer)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")
