"""Task DTOs (DESIGN §3: the only task shape a client sees) and the internal task record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from retouch.catalog.schemas import KEY_PATTERN

TaskStatus = Literal["queued", "running", "succeeded", "failed", "canceled"]
ACTIVE: tuple[TaskStatus, ...] = ("queued", "running")
TERMINAL: tuple[TaskStatus, ...] = ("succeeded", "failed", "canceled")
MAX_PAGE_SIZE = 100


class TaskCreate(BaseModel):
    """`POST /v1/tasks`: which feature, with which inputs (checked against its form)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str = Field(pattern=KEY_PATTERN, description="a feature key, e.g. `cutout`")
    inputs: dict[str, Any] = Field(description="fields of the feature's form_schema")


class OutputImage(BaseModel):
    url: str = Field(description="a short-lived signed URL of our storage")
    width: int
    height: int
    expires_at: datetime


class TaskOutput(BaseModel):
    images: list[OutputImage]


class TaskError(BaseModel):
    code: str
    message: str


class TaskRead(BaseModel):
    """A task as its owner sees it."""

    id: str
    feature: str
    status: TaskStatus
    inputs: dict[str, Any]
    output: TaskOutput | None
    error: TaskError | None
    cost: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class TaskPage(BaseModel):
    items: list[TaskRead]
    next_cursor: str | None


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


@dataclass(frozen=True, slots=True)
class KeyClaim:
    """A request's claim on an `Idempotency-Key` (`token` names the claiming request)."""

    user_id: int
    key: str
    request_hash: str
    token: str
    now: datetime
    lease_until: datetime
    expires_at: datetime
