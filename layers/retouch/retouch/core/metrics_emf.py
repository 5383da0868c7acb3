"""The EMF sink: CloudWatch embedded-metric-format lines on stdout (AWS Lambda; CloudWatch
Logs turns them into metrics).

Records with the same dimensions share one line, as the request middleware's per-route set
always did; a name already on that line starts a new one, so each `emit` of a business
metric stays its own line. Lines are written by Powertools' own EMF provider (one instance
of this sink's, not the shared `Metrics` state), so they are the bytes Powertools writes;
`POWERTOOLS_METRICS_DISABLED` still silences them.
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
    AmazonCloudWatchEMFProvider,
)

from retouch.core.logging import SERVICE

_Dimensions = tuple[tuple[str, str], ...]
_Line = tuple[_Dimensions, list[tuple[str, float, str]], set[str]]


class EmfSink:
    """`MetricsSink` writing EMF lines at flush."""

    def __init__(self, namespace: str) -> None:
        self._provider = AmazonCloudWatchEMFProvider(namespace=namespace, service=SERVICE)
        self._lines: list[_Line] = []
        self._open: dict[_Dimensions, _Line] = {}

    def record(self, name: str, value: float, unit: str, dimensions: Mapping[str, str]) -> None:
        key = tuple(dimensions.items())
        line = self._open.get(key)
        if line is None or name in line[2]:
            line = (key, [], set())
            self._lines.append(line)
            self._open[key] = line
        line[1].append((name, value, unit))
        line[2].add(name)

    def flush(self) -> None:
        lines, self._lines, self._open = self._lines, [], {}
        provider = self._provider
        for dimensions, values, _ in lines:
            # In the order given: `emit` puts `service` first, the middleware last, as before.
            for key, dimension in dimensions:
                provider.add_dimension(name=key, value=dimension)
            for name, value, unit in values:
                provider.add_metric(name=name, unit=unit, value=value)
            provider.flush_metrics()
            if provider.metric_set:
                # Powertools keeps the set when metrics are disabled; clear it so nothing piles up.
                provider.clear_metrics()
