"""The internal task records (`tasks` rows, stored images) and the task statuses: plain
dataclasses, without pydantic, so the step functions, which read tasks but never answer a
client, do not import the API's models (`schemas`) for them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

TaskStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]
ACTIVE: tuple[TaskStatus, ...] = ("queued", "running")
TERMINAL: tuple[TaskStatus, ...] = ("succeeded", "failed", "canceled")
#: A task's public id: `tsk_` and 22 URL-safe characters (`core.ids.new_public_id("tsk")`).
TASK_ID = re.compile(r"tsk_[A-Za-z0-9_-]{22}")


def is_task_id(value: str) -> bool:
    """Whether `value` is shaped like a task's public id (anything else names no task)."""
    return TASK_ID.fullmatch(value) is not None


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
