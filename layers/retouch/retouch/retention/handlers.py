"""The `retention` job's entry: the run over the process's database, storage and settings."""

from __future__ import annotations

from typing import Any

from retouch.core.db import get_database
from retouch.core.settings import get_settings
from retouch.retention.service import run_retention
from retouch.storage import get_storage


def run_scheduled_retention() -> dict[str, Any]:
    """One retention run (`retouch.retention.service`), on the job's connection."""
    return run_retention(
        database=get_database("job"), storage=get_storage(), settings=get_settings()
    )
