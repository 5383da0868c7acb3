"""The HTTP and backup figures on AWS: CloudWatch `GetMetricData` over the EMF metrics the
functions emit (`core/metrics_emf.py`, namespace `Retouch`).

On Lambda these figures never reach a file the live inputs could read: the request
middleware's `Requests`, `Errors5xx` and `Latency` (dimensions `route`, `service`) and the
backup jobs' `BackupFailed` / `BackupVerifyFailed` (dimension `service`) are EMF lines that
CloudWatch turns into metrics. The subjects are what `ListMetrics` names (a route that had no
request in the last two weeks is not listed, and a listed one without a datapoint in the
window observes nothing). One period covers the whole window (`window_s` rounded up to a
minute), so a count is its `Sum` and a p95 CloudWatch's own `p95` over every request of the
window. Calls that fail (throttled, denied, unreachable) make the kind unavailable this run.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

from retouch.alerts.inputs import Observation, read_figure
from retouch.alerts.rules import RuleKind

#: boto3's CloudWatch client (the project's stubs cover S3, SQS and STS only).
CloudWatchClient = Any
#: The kinds CloudWatch answers; the others stay with the live inputs.
CLOUDWATCH_KINDS: frozenset[str] = frozenset(
    {"http_5xx_rate", "http_p95_latency_ms", "backup_failed"}
)
BACKUP_METRICS = ("BackupFailed", "BackupVerifyFailed")
#: GetMetricData's limit of queries per call.
MAX_QUERIES = 500


class CloudWatchInputs:
    """`AlertInputs` of CLOUDWATCH_KINDS from CloudWatch; boto3 is imported on first use."""

    def __init__(
        self,
        *,
        namespace: str,
        client: CloudWatchClient | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self.namespace = namespace
        self._client = client
        self._endpoint_url = endpoint_url

    def observe(self, kind: RuleKind, *, window_s: int, now: datetime) -> dict[str, Observation]:
        from botocore.exceptions import BotoCoreError, ClientError

        readers = {
            "http_5xx_rate": self._http_5xx_rate,
            "http_p95_latency_ms": self._http_p95,
            "backup_failed": self._backup_failures,
        }
        failures = (BotoCoreError, ClientError)
        return read_figure("cloudwatch", readers, failures, kind, window_s=window_s, now=now)

    def _http_5xx_rate(self, window_s: int, now: datetime) -> dict[str, Observation]:
        routes = self._listed("Requests")
        requests = self._values(routes, "Requests", "Sum", window_s, now)
        errors = self._values(routes, "Errors5xx", "Sum", window_s, now)
        return {
            route: Observation(errors.get(route, 0.0) / total, int(total))
            for route, total in requests.items()
            if total
        }

    def _http_p95(self, window_s: int, now: datetime) -> dict[str, Observation]:
        routes = self._listed("Latency")
        p95 = self._values(routes, "Latency", "p95", window_s, now)
        samples = self._values(routes, "Latency", "SampleCount", window_s, now)
        return {
            route: Observation(value, int(samples.get(route, 0))) for route, value in p95.items()
        }

    def _backup_failures(self, window_s: int, now: datetime) -> dict[str, Observation]:
        answer = {}
        for name in BACKUP_METRICS:
            listed = self._listed(name, key=None)
            failed = sum(self._values(listed, name, "Sum", window_s, now).values())
            if failed:
                answer[name] = Observation(failed)
        return answer

    def _listed(self, name: str, key: str | None = "route") -> dict[str, list[dict[str, str]]]:
        """{subject: dimensions} of metric `name` (subject: the `key` dimension, or the
        metric's dimensions joined when `key` is None)."""
        found: dict[str, list[dict[str, str]]] = {}
        pages = self._cloudwatch().get_paginator("list_metrics")
        for page in pages.paginate(Namespace=self.namespace, MetricName=name):
            for metric in page.get("Metrics", []):
                dimensions = [
                    {"Name": d["Name"], "Value": d["Value"]} for d in metric.get("Dimensions", [])
                ]
                values = {d["Name"]: d["Value"] for d in dimensions}
                if key is None:
                    found[",".join(f"{n}={v}" for n, v in sorted(values.items()))] = dimensions
                elif key in values:
                    found[values[key]] = dimensions
        return found

    def _values(
        self,
        subjects: dict[str, list[dict[str, str]]],
        name: str,
        stat: str,
        window_s: int,
        now: datetime,
    ) -> dict[str, float]:
        """Per subject, `stat` of metric `name` over the window (summed over its periods for
        a count, the highest period for any other statistic); absent without a datapoint."""
        period = max(60, math.ceil(window_s / 60) * 60)
        ids = {f"q{index}": subject for index, subject in enumerate(subjects)}
        values: dict[str, list[float]] = defaultdict(list)
        for chunk in _chunks(list(ids.items()), MAX_QUERIES):
            queries: list[Any] = [
                {
                    "Id": query_id,
                    "MetricStat": {
                        "Metric": {
                            "Namespace": self.namespace,
                            "MetricName": name,
                            "Dimensions": subjects[subject],
                        },
                        "Period": period,
                        "Stat": stat,
                    },
                    "ReturnData": True,
                }
                for query_id, subject in chunk
            ]
            pages = self._cloudwatch().get_paginator("get_metric_data")
            for page in pages.paginate(
                MetricDataQueries=queries,
                StartTime=now - timedelta(seconds=period),
                EndTime=now,
            ):
                for result in page.get("MetricDataResults", []):
                    found = [float(v) for v in result.get("Values", []) if v is not None]
                    values[ids[result["Id"]]].extend(found)
        combine = sum if stat in ("Sum", "SampleCount") else max
        return {subject: float(combine(found)) for subject, found in values.items() if found}

    def _cloudwatch(self) -> CloudWatchClient:
        if self._client is None:
            import boto3
            from botocore.config import Config

            config = Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2})
            self._client = boto3.client(
                "cloudwatch", endpoint_url=self._endpoint_url, config=config
            )
        return self._client


def _chunks(items: list[tuple[str, str]], size: int) -> Iterator[list[tuple[str, str]]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
