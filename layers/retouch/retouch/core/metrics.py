"""Metrics through one port: every metric is `emit`ted to a process-wide recorder, which
batches it in memory and hands it to the sink the settings choose (`RETOUCH_METRICS_SINK`):

- `emf` (AWS, and the default off SCF): CloudWatch EMF lines on stdout (`metrics_emf.py`);
- `tencent` (the default on SCF, where EMF lines do nothing): Tencent Cloud Monitor custom
  metrics, TC3-signed with the function role's keys (`metrics_tencent.py`);
- `local`: a JSON-lines file the operator console reads (`metrics_local.py`);
- `none`: dropped.

An invocation ends with `end_invocation()` (the HTTP middleware after each response, the
step and job handlers through `flushing_metrics`): the batch is flushed when the sink's
interval has passed since the last flush or the batch is full — every invocation for EMF and
local; for Cloud Monitor at an instance's first invocation, then at most every
`RETOUCH_METRICS_FLUSH_INTERVAL_S` (15 s), so most requests pay no network call. A flush
never raises: a failure is logged, counted (`failures`, and the `MetricsFlushFailures`
metric in the next batch) and the batch dropped.

Each domain names its own metrics (`tasks/metrics.py`, `providers/metrics.py`,
`pipeline/metrics.py`, `cache/metrics.py`, the middleware's per-route set).
"""

from __future__ import annotations

import functools
import math
import resource
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from retouch.core.logging import SERVICE, logger
from retouch.core.settings import SettingsError, get_settings, running_on_scf

NAMESPACE = "Retouch"
#: Records held before an invocation end flushes whatever the interval says.
MAX_PENDING = 1000
FLUSH_FAILURES = "MetricsFlushFailures"
#: The instance's peak memory is sampled at most this often (and at its first invocation).
MEMORY_SAMPLE_EVERY_S = 60.0

__all__ = [
    "NAMESPACE",
    "MetricUnit",
    "MetricsSink",
    "Recorder",
    "emit",
    "end_invocation",
    "flushing_metrics",
    "get_recorder",
    "record_invocation",
    "reset_recorder",
]


class MetricsSink(Protocol):
    """Where metric values go. `record` only buffers (no I/O); `flush` delivers the buffer
    and may raise: the recorder catches, logs and counts."""

    def record(self, name: str, value: float, unit: str, dimensions: Mapping[str, str]) -> None:
        """Buffer one value of metric `name` with its `dimensions` (service included)."""

    def flush(self) -> None:
        """Deliver and forget everything buffered."""


class Recorder:
    """The process-wide batcher in front of one sink (see the module docstring)."""

    def __init__(
        self,
        sink: MetricsSink,
        *,
        flush_interval_s: float = 0.0,
        max_pending: int = MAX_PENDING,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.flush_interval_s = flush_interval_s
        self.max_pending = max_pending
        self.failures = 0
        self._clock = clock
        self._pending = 0
        # The first invocation flushes: an instance that serves one request is not silent.
        self._last_flush = -math.inf
        self._lock = threading.Lock()

    def record(self, name: str, value: float, unit: str, dimensions: Mapping[str, str]) -> None:
        with self._lock:
            self.sink.record(name, value, unit, dimensions)
            self._pending += 1

    def end_invocation(self) -> None:
        """Flush when due: the interval has passed, or the batch is full."""
        now = self._clock()
        if self._pending and (
            now - self._last_flush >= self.flush_interval_s or self._pending >= self.max_pending
        ):
            self.flush()

    def flush(self) -> None:
        """Deliver the batch now; never raises."""
        with self._lock:
            self._pending = 0
            self._last_flush = self._clock()
            try:
                self.sink.flush()
            except Exception as exc:  # noqa: BLE001 - metrics never fail the invocation
                self.failures += 1
                logger.warning(
                    "metrics flush failed",
                    extra={"sink": type(self.sink).__name__, "error": repr(exc)},
                )
                self.sink.record(FLUSH_FAILURES, 1, MetricUnit.Count.value, {"service": SERVICE})
                self._pending += 1


class NullSink:
    """`RETOUCH_METRICS_SINK=none`: keeps nothing."""

    def record(self, name: str, value: float, unit: str, dimensions: Mapping[str, str]) -> None:
        pass

    def flush(self) -> None:
        pass


_recorder: Recorder | None = None
_recorder_lock = threading.Lock()
_memory_sampled_at: float | None = None


def get_recorder() -> Recorder:
    """The process's recorder, built from the settings on first use."""
    global _recorder
    if _recorder is None:
        with _recorder_lock:
            if _recorder is None:
                _recorder = _build_recorder()
    return _recorder


def reset_recorder(recorder: Recorder | None = None) -> None:
    """Flush and forget the recorder (tests; `reset_clients`), or install `recorder`; the
    next invocation samples memory again, as a new instance's first would."""
    global _recorder, _memory_sampled_at
    with _recorder_lock:
        previous, _recorder = _recorder, recorder
        _memory_sampled_at = None
    if previous is not None:
        previous.flush()


def _build_recorder() -> Recorder:
    try:
        settings = get_settings()
    except SettingsError:
        # Metrics never stop a process: without valid settings, the platform's default sink.
        return Recorder(_default_sink())
    kind = settings.metrics_sink or ("tencent" if running_on_scf() else "emf")
    if kind == "tencent":
        from retouch.core.metrics_tencent import CloudMonitorSink

        interval = settings.metrics_flush_interval_s
        return Recorder(
            CloudMonitorSink.from_settings(settings, NAMESPACE),
            flush_interval_s=15.0 if interval is None else interval,
        )
    interval = settings.metrics_flush_interval_s or 0.0
    if kind == "local":
        from retouch.core.metrics_local import LocalFileSink

        return Recorder(LocalFileSink.from_settings(settings, NAMESPACE), flush_interval_s=interval)
    if kind == "none":
        return Recorder(NullSink())
    return Recorder(_default_sink(), flush_interval_s=interval)


def _default_sink() -> MetricsSink:
    from retouch.core.metrics_emf import EmfSink

    return EmfSink(NAMESPACE)


def emit(
    name: str, value: float, *, unit: MetricUnit = MetricUnit.Count, **dimensions: str
) -> None:
    """One metric value with the service's dimension and `dimensions`, batched until the
    invocation ends."""
    get_recorder().record(name, value, unit.value, {"service": SERVICE, **dimensions})


def end_invocation() -> None:
    """The invocation is over: flush the batch if due (never raises)."""
    get_recorder().end_invocation()


def record_invocation(*, cold_start: bool, function: str | None) -> None:
    """An invocation of `function` began: `ColdStart` once per instance, and the instance's
    peak memory (`MemoryUsedMb`, max RSS) at its first invocation, then at most once a
    minute, so a warm request adds nothing to most batches."""
    global _memory_sampled_at
    dimensions = {"service": SERVICE, "function": function or "unknown"}
    recorder = get_recorder()
    if cold_start:
        recorder.record("ColdStart", 1, MetricUnit.Count.value, dimensions)
    now = time.monotonic()
    if _memory_sampled_at is None or now - _memory_sampled_at >= MEMORY_SAMPLE_EVERY_S:
        _memory_sampled_at = now
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
        megabytes = peak / (1024 * 1024 if sys.platform == "darwin" else 1024)
        recorder.record("MemoryUsedMb", round(megabytes, 1), MetricUnit.Megabytes.value, dimensions)


F = TypeVar("F", bound=Callable[..., Any])


def flushing_metrics(handler: F) -> F:
    """Wrap a function handler (steps, jobs, triggers) so that its metrics leave when it
    returns or raises."""

    @functools.wraps(handler)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            end_invocation()

    return wrapped  # type: ignore[return-value]
