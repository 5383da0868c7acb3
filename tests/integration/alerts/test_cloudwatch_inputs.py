"""The alert inputs of the HTTP and backup kinds on AWS, read from CloudWatch (moto's server)
with `ListMetrics` and `GetMetricData` over the metrics our EMF lines become: a route's 5xx
rate over the window, with its request count as samples; datapoints outside the window and
other routes' left out; backup failures summed; the other kinds stay with the live inputs;
a CloudWatch that refuses is the input being unavailable, never "recovered"."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import boto3
import pytest

from retouch.alerts.cloudwatch import CLOUDWATCH_KINDS, CloudWatchInputs
from retouch.alerts.inputs import CombinedInputs, InputUnavailable, Observation
from retouch.alerts.rules import RuleKind
from tests.integration.sqs_support import MotoSqs

pytestmark = pytest.mark.integration

NOW = datetime.now(timezone.utc).replace(microsecond=0)


@pytest.fixture
def cloudwatch(sqs: MotoSqs) -> Iterator[tuple[Any, str]]:
    """moto's server (the session's, which serves every AWS API) and a namespace of our own."""
    yield boto3.client("cloudwatch", endpoint_url=sqs.endpoint_url), f"Retouch{uuid.uuid4().hex}"


def put(client: Any, namespace: str, name: str, value: float, ago_s: int, **dims: str) -> None:
    client.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {
                "MetricName": name,
                "Value": value,
                "Timestamp": NOW - timedelta(seconds=ago_s),
                "Dimensions": [{"Name": k, "Value": v} for k, v in dims.items()],
            }
        ],
    )


def request(client: Any, namespace: str, route: str, status: int, ago_s: int = 30) -> None:
    dims = {"route": route, "service": "retouch"}
    put(client, namespace, "Requests", 1, ago_s, **dims)
    put(client, namespace, "Errors5xx", int(status >= 500), ago_s, **dims)


def test_the_5xx_rate_per_route_comes_from_the_window_s_datapoints(
    cloudwatch: tuple[Any, str],
) -> None:
    # GIVEN 4 requests to one route in the last 5 minutes (1 a 500), 2 to another (no 500),
    # and an old burst of 500s outside the window
    client, namespace = cloudwatch
    for status in (200, 200, 500, 201):
        request(client, namespace, "POST /v1/tasks", status)
    for _ in range(2):
        request(client, namespace, "GET /v1/me", 200)
    for _ in range(3):
        request(client, namespace, "GET /v1/me", 500, ago_s=3600)

    observed = CloudWatchInputs(namespace=namespace, client=client).observe(
        "http_5xx_rate", window_s=300, now=NOW
    )

    assert observed == {
        "POST /v1/tasks": Observation(0.25, 4),
        "GET /v1/me": Observation(0.0, 2),
    }


def test_backup_failures_are_summed_over_the_window(cloudwatch: tuple[Any, str]) -> None:
    client, namespace = cloudwatch
    put(client, namespace, "BackupFailed", 1, 600, service="retouch")
    put(client, namespace, "BackupFailed", 1, 7200, service="retouch")
    put(client, namespace, "BackupFailed", 1, 2 * 86_400, service="retouch")  # a day before

    observed = CloudWatchInputs(namespace=namespace, client=client).observe(
        "backup_failed", window_s=86_400, now=NOW
    )

    assert observed == {"BackupFailed": Observation(2.0)}


def test_nothing_emitted_observes_nothing(cloudwatch: tuple[Any, str]) -> None:
    client, namespace = cloudwatch
    inputs = CloudWatchInputs(namespace=namespace, client=client)
    assert inputs.observe("http_5xx_rate", window_s=300, now=NOW) == {}
    assert inputs.observe("http_p95_latency_ms", window_s=300, now=NOW) == {}


def test_a_refused_call_is_an_unavailable_input(sqs: MotoSqs) -> None:
    # an endpoint where nothing listens: botocore's connection error, retried, then refused
    client = boto3.client("cloudwatch", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(InputUnavailable, match="http_5xx_rate: cloudwatch"):
        CloudWatchInputs(namespace="Retouch", client=client).observe(
            "http_5xx_rate", window_s=300, now=NOW
        )


class Fixed:
    def __init__(self, answer: dict[str, Observation]) -> None:
        self.answer = answer
        self.kinds: list[str] = []

    def observe(self, kind: RuleKind, *, window_s: int, now: datetime) -> dict[str, Observation]:
        self.kinds.append(kind)
        return self.answer


def test_combined_inputs_send_each_kind_to_its_source() -> None:
    cloud, live = Fixed({"r": Observation(1.0)}), Fixed({})
    inputs = CombinedInputs(cloud, CLOUDWATCH_KINDS, live)
    for kind in ("http_5xx_rate", "dlq_depth", "backup_failed", "db_down"):
        inputs.observe(kind, window_s=300, now=NOW)
    assert cloud.kinds == ["http_5xx_rate", "backup_failed"]
    assert live.kinds == ["dlq_depth", "db_down"]
