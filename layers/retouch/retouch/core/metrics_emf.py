"""The EMF sink: CloudWatch embedded-metric-format lines on stdout (AWS Lambda; CloudWatch
Logs turns them into metrics).

Records with the same dimensions share one line, as the request middleware's per-route set
always did; a name already on that line starts a new one, so each `emit` of a business
metric stays its own line. A line is the object Powertools' EMF provider writes (`_aws` with
the timestamp in ms, the namespace, the dimension names and each metric's name and unit,
then the dimensions, then each metric's values as a list of floats), built here as one dict
and written with one `json.dumps` per line and one write per flush: the provider checked and
rebuilt every metric on every request, the largest part of the request's metrics cost
(`scripts/bench/hotpath.py`). `POWERTOOLS_METRICS_DISABLED` still silences the lines.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping

from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from retouch.core.logging import SERVICE

_Dimensions = tuple[tuple[str, str], ...]
_Line = tuple[_Dimensions, list[tuple[str, float, str]], set[str]]


class EmfSink:
    """`MetricsSink` writing EMF lines at flush."""

    def __init__(self, namespace: str) -> None:
        self._namespace = namespace
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
        if not lines or is_metrics_disabled():
            return
        timestamp = int(time.time() * 1000)
        text = "\n".join(
            json.dumps(self._line(dimensions, values, timestamp), separators=(",", ":"))
            for dimensions, values, _ in lines
        )
        sys.stdout.write(text + "\n")

    def _line(
        self, dimensions: _Dimensions, values: list[tuple[str, float, str]], timestamp: int
    ) -> dict[str, object]:
        # In the order given: `emit` puts `service` first, the middleware last, as before.
        named = dict(dimensions)
        named.setdefault("service", SERVICE)
        directive = {
            "Namespace": self._namespace,
            "Dimensions": [list(named)],
            "Metrics": [{"Name": name, "Unit": unit} for name, _, unit in values],
        }
        line: dict[str, object] = {
            "_aws": {"Timestamp": timestamp, "CloudWatchMetrics": [directive]}
        }
        line.update(named)
        line.update((name, [float(value)]) for name, value, _ in values)
        return line
