"""The Tencent Cloud Monitor sink (SCF): custom metrics through `PutMonitorData` (Cloud
Monitor API 3.0, version 2018-07-24), TC3-HMAC-SHA256-signed with the SCF execution role's
temporary keys. The API, its limits and why this call: docs/observability.md.

The API takes integer metric/value pairs, no dimensions, at most `MAX_PER_CALL` (30) per
call, one timestamp per call (`AnnounceTimestamp`, within the last 300 s, whole minutes
advised). So records are aggregated per minute and per name-with-dimensions (`metric_name`:
`Requests` with `route=GET /v1/health` is `Requests_route_GET_v1_health`): counts summed,
other units (latency) averaged, every value rounded to an integer. A flush sends each
minute's pairs in calls of 30, with a short timeout; it stops at the first failure and
raises `CloudMonitorError` (the recorder logs and counts it); pairs too old to be accepted
are dropped and counted (`dropped`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from retouch.core.settings import Settings, scf_region, scf_role_credentials

ACTION = "PutMonitorData"
VERSION = "2018-07-24"
SERVICE_NAME = "monitor"
MAX_PER_CALL = 30
#: The API refuses timestamps older than 300 s; a margin for the call itself.
MAX_AGE_S = 290
_NOT_NAME = re.compile(r"[^A-Za-z0-9_]+")
#: A latency's per-minute p95 is reported as `<name>P95` (`LatencyP95_route_…`).
P95_SUFFIX = "P95"


class CloudMonitorError(RuntimeError):
    """A PutMonitorData call failed (transport, HTTP status or an API error)."""


def metric_name(name: str, dimensions: Mapping[str, str]) -> str:
    """The Cloud Monitor name of metric `name` with `dimensions` (service left out: every
    metric is the service's), in letters, digits and `_`."""
    parts = [name, *(f"{key}_{value}" for key, value in dimensions.items() if key != "service")]
    return _NOT_NAME.sub("_", "_".join(parts)).strip("_")[:128]


class CloudMonitorSink:
    """`MetricsSink` for Tencent Cloud Monitor (see the module docstring)."""

    def __init__(
        self,
        *,
        namespace: str,
        region: str,
        endpoint: str = "https://monitor.tencentcloudapi.com",
        timeout_s: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.namespace = namespace
        self.region = region
        self.endpoint = endpoint
        self.timeout_s = timeout_s
        self.calls = 0
        self.dropped = 0
        self._clock = clock
        self._buckets: dict[tuple[int, str], list[float]] = {}
        self._samples: dict[tuple[int, str], list[float]] = {}
        self._client: Any = None

    @classmethod
    def from_settings(cls, settings: Settings, namespace: str) -> CloudMonitorSink:
        return cls(
            namespace=namespace,
            region=settings.metrics_tencent_region or scf_region(),
            endpoint=settings.metrics_tencent_endpoint,
            timeout_s=settings.metrics_flush_timeout_s,
        )

    def record(self, name: str, value: float, unit: str, dimensions: Mapping[str, str]) -> None:
        minute = int(self._clock()) // 60 * 60
        bucket = self._buckets.setdefault((minute, metric_name(name, dimensions)), [0.0, 0, 0])
        bucket[0] += value
        bucket[1] += 1
        bucket[2] = float(unit != "Count")  # averaged, not summed
        if unit == "Milliseconds":  # and its p95, which the latency alert reads back
            key = (minute, metric_name(name + P95_SUFFIX, dimensions))
            self._samples.setdefault(key, []).append(value)

    def flush(self) -> None:
        buckets, self._buckets = self._buckets, {}
        samples, self._samples = self._samples, {}
        values = {
            key: (total / count if averaged else total)
            for key, (total, count, averaged) in buckets.items()
        }
        values.update({key: nearest_rank_p95(found) for key, found in samples.items()})
        oldest = self._clock() - MAX_AGE_S
        by_minute: dict[int, list[dict[str, Any]]] = {}
        for (minute, name), value in values.items():
            if minute < oldest:
                self.dropped += 1
                continue
            # The API's `Value` is an integer (MetricDatum.Value: Integer).
            by_minute.setdefault(minute, []).append({"MetricName": name, "Value": round(value)})
        batches = list(_calls(by_minute))
        for index, (minute, metrics) in enumerate(batches):
            try:
                self._put(minute, metrics)
            except Exception as exc:
                self.dropped += sum(len(rest) for _, rest in batches[index:])
                raise CloudMonitorError(f"{ACTION} failed: {exc}") from exc

    def _put(self, minute: int, metrics: list[dict[str, Any]]) -> None:
        body = json.dumps(
            {"Metrics": metrics, "AnnounceInstance": self.namespace, "AnnounceTimestamp": minute},
            separators=(",", ":"),
        ).encode()
        response = self._http().post(self.endpoint + "/", content=body, headers=self._headers(body))
        self.calls += 1
        if response.status_code != 200:
            raise CloudMonitorError(f"HTTP {response.status_code}")
        error = (response.json().get("Response") or {}).get("Error")
        if error:
            raise CloudMonitorError(f"{error.get('Code')}: {error.get('Message')}")

    def _headers(self, body: bytes) -> dict[str, str]:
        return tc3_headers(
            endpoint=self.endpoint, action=ACTION, version=VERSION, region=self.region, body=body
        )

    def _http(self) -> Any:
        if self._client is None:
            import httpx  # only the Tencent sink needs it, and only when it flushes

            self._client = httpx.Client(timeout=self.timeout_s)
        return self._client


def nearest_rank_p95(values: list[float]) -> float:
    """The nearest-rank 95th percentile of `values` (not empty)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def _calls(
    by_minute: Mapping[int, list[dict[str, Any]]],
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    for minute in sorted(by_minute):
        metrics = by_minute[minute]
        for start in range(0, len(metrics), MAX_PER_CALL):
            yield minute, metrics[start : start + MAX_PER_CALL]


def tc3_headers(
    *,
    endpoint: str,
    action: str,
    version: str,
    region: str,
    body: bytes,
    service: str = SERVICE_NAME,
) -> dict[str, str]:
    """Every header of a Tencent Cloud API 3.0 call (by default to Cloud Monitor, `monitor`)
    with JSON `body`, signed with the SCF execution role's keys; CloudMonitorError without
    keys. An empty `region` sends none (APIs such as Captcha's take no region)."""
    role = scf_role_credentials()
    if role is None:
        raise CloudMonitorError("no Tencent Cloud credentials (TENCENTCLOUD_SECRETID/KEY)")
    headers = {"content-type": "application/json; charset=utf-8", "host": urlsplit(endpoint).netloc}
    timestamp = int(time.time())
    authorization = tc3_authorization(
        secret_id=role.secret_id,
        secret_key=role.secret_key.get_secret_value(),
        service=service,
        timestamp=timestamp,
        signed=headers,
        body=body,
    )
    token = role.token.get_secret_value()
    return {
        **headers,
        "authorization": authorization,
        "x-tc-action": action,
        "x-tc-version": version,
        "x-tc-timestamp": str(timestamp),
        **({"x-tc-region": region} if region else {}),
        **({"x-tc-token": token} if token else {}),
    }


def tc3_authorization(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    timestamp: int,
    signed: Mapping[str, str],
    body: bytes,
) -> str:
    """The `Authorization` header of a TC3-HMAC-SHA256-signed POST to `/` (Tencent Cloud API
    3.0 "Signature v3"): `signed` are the lower-case headers signed, in order."""
    date = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    names = ";".join(signed)
    canonical = "".join(f"{name}:{value}\n" for name, value in signed.items())
    request = f"POST\n/\n\n{canonical}\n{names}\n{hashlib.sha256(body).hexdigest()}"
    scope = f"{date}/{service}/tc3_request"
    to_sign = (
        f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{hashlib.sha256(request.encode()).hexdigest()}"
    )
    key = ("TC3" + secret_key).encode()
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    return (
        f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders={names}, "
        f"Signature={signature}"
    )
