"""Where metrics go (`retouch.core.metrics`): the sink, how often it is flushed, and the
Tencent Cloud Monitor and local-file sinks' own settings; see docs/observability.md."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from retouch.core.settings.base import SettingsGroup


class ObservabilitySettings(SettingsGroup):
    """The metrics sink and its batching."""

    metrics_sink: Literal["emf", "tencent", "local", "none"] | None = Field(
        None,
        description="metrics sink: emf (CloudWatch EMF lines on stdout), tencent (Tencent Cloud "
        "Monitor custom metrics), local (a JSON-lines file), none; default tencent on SCF, "
        "else emf",
    )
    metrics_flush_interval_s: float | None = Field(
        None,
        ge=0,
        le=300,
        description="flush the metrics batch at the end of an invocation only when this long "
        "has passed since the last flush (or the batch is full); default 0 for emf and local "
        "(every invocation), 15 for tencent",
    )
    metrics_flush_timeout_s: float = Field(
        1.0, gt=0, le=10, description="timeout of one Cloud Monitor call when flushing"
    )
    metrics_tencent_region: str = Field(
        "",
        pattern=r"^([a-z]+(-[a-z0-9]+)+)?$",
        description="Tencent Cloud region of the Cloud Monitor calls (default: the function's, "
        "TENCENTCLOUD_REGION as SCF sets it)",
    )
    metrics_tencent_endpoint: str = Field(
        "https://monitor.tencentcloudapi.com",
        pattern=r"^https?://[^/]+$",
        description="Cloud Monitor API endpoint as scheme://host[:port] (tests: a local fake)",
    )
    metrics_local_path: str = Field(
        ".local/metrics.jsonl",
        min_length=1,
        description="file the local sink appends JSON lines to (read by the operator console)",
    )
    metrics_local_max_bytes: int = Field(
        16 * 1024 * 1024,
        ge=4096,
        description="the local file is rotated to <path>.1 once it grows past this size",
    )
