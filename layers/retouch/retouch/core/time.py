"""Time: one clock type, so use cases take an injectable clock and tests never sleep.

MySQL `DATETIME` columns hold UTC without a zone; these helpers are the only place that
strips the zone on the way in and puts it back on the way out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC (the default `Clock`)."""
    return datetime.now(timezone.utc)


def to_db(moment: datetime) -> datetime:
    """An aware datetime as the naive UTC value a `DATETIME` column stores."""
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def from_db(value: datetime) -> datetime:
    """A naive UTC value read from a `DATETIME` column, made aware."""
    return value.replace(tzinfo=timezone.utc)


def to_millis(moment: datetime) -> datetime:
    """`moment` cut to whole milliseconds: what a `DATETIME(3)` column keeps (MariaDB cuts,
    MySQL rounds; cutting first makes both store exactly this value)."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def from_epoch(seconds: float) -> datetime:
    """Seconds since the Unix epoch (presigned URL expiries, STS answers) as aware UTC."""
    return datetime.fromtimestamp(seconds, timezone.utc)


def from_db_value(value: datetime | str) -> datetime:
    """A `DATETIME` column's value made aware: as the driver reads it, or as `JSON_OBJECT`
    renders it in a document (`2026-12-06 07:40:20.123`, UTC)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=timezone.utc)
