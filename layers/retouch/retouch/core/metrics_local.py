"""The local sink: metrics as JSON lines appended to one file (`RETOUCH_METRICS_LOCAL_PATH`),
for the local stack and the operator console, which reads them with `read_metrics`.

One line per value: `{"time", "namespace", "name", "value", "unit", "dimensions"}` (`time` in
epoch seconds). A file is chosen over an in-memory ring because the local stack runs each
function's invocations in its own threads and the console in another process: a file is
what they share. Past `RETOUCH_METRICS_LOCAL_MAX_BYTES` the file is renamed to `<path>.1`
(replacing the previous one), so it never grows without bound.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from retouch.core.settings import Settings

#: Appends from several threads (the local stack) go through one lock per path.
_locks: dict[str, threading.Lock] = {}


class LocalFileSink:
    """`MetricsSink` appending JSON lines at flush."""

    def __init__(
        self,
        path: str | Path,
        *,
        namespace: str,
        max_bytes: int = 16 * 1024 * 1024,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.namespace = namespace
        self.max_bytes = max_bytes
        self._clock = clock
        self._lines: list[str] = []
        self._lock = _locks.setdefault(str(self.path.resolve()), threading.Lock())

    @classmethod
    def from_settings(cls, settings: Settings, namespace: str) -> LocalFileSink:
        return cls(
            settings.metrics_local_path,
            namespace=namespace,
            max_bytes=settings.metrics_local_max_bytes,
        )

    def record(self, name: str, value: float, unit: str, dimensions: Mapping[str, str]) -> None:
        line = {
            "time": round(self._clock(), 3),
            "namespace": self.namespace,
            "name": name,
            "value": value,
            "unit": unit,
            "dimensions": dict(dimensions),
        }
        self._lines.append(json.dumps(line, separators=(",", ":")))

    def flush(self) -> None:
        lines, self._lines = self._lines, []
        if not lines:
            return
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            with self.path.open("a", encoding="utf-8") as file:
                file.write("\n".join(lines) + "\n")


def read_metrics(path: str | Path, *, since: float = 0.0) -> list[dict[str, Any]]:
    """The values a local sink wrote to `path` (and its rotated `<path>.1`) at or after
    `since`, oldest first; a torn last line (a write in progress) is skipped."""
    path = Path(path)
    values: list[dict[str, Any]] = []
    for part in (path.with_name(path.name + ".1"), path):
        if not part.exists():
            continue
        for raw in part.read_text(encoding="utf-8").splitlines():
            try:
                value = json.loads(raw)
            except ValueError:
                continue
            if value.get("time", 0) >= since:
                values.append(value)
    return values
