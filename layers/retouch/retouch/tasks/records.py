"""The internal task records (`tasks` rows, stored images) and the task statuses: plain
dataclasses, without pydantic, so the step functions, which read tasks but never answer a
client, do not import the API's models (`schemas`) for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

TaskStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]
ACTIVE: tuple[TaskStatus, ...] = ("queued", "running")
TERMINAL: tuple[TaskStatus, ...] = ("succeeded", "failed", "canceled")


@dataclass(frozen=True, slots=True)
class StoredImage:
    """One output image as the task row keeps it: a key of our storage, never a URL."""

    key: str
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class Task:
    """A `tasks` row (internal: `id` and `user_id` never leave the server)."""

    id: int
    public_id: str
    user_id: int
    feature_key: str
    form_version: int
    pipeline_version: int
    status: TaskStatus
    inputs: dict[str, Any]
    images: tuple[StoredImage, ...]
    error_code: str | None
    cost: int
    hidden: bool
    revision: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
