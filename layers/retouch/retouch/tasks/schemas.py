"""Task DTOs (DESIGN §3: the only task shape a client sees) and the internal task record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from retouch.catalog.schemas import KEY_PATTERN
from retouch.core.schemas import RequestSchema, Schema

# The internal records live in `records` (no pydantic: the step functions' cold start); they
# are named here too, so `retouch.tasks.schemas` stays the one place of the task shapes.
from retouch.tasks.records import ACTIVE as ACTIVE
from retouch.tasks.records import TERMINAL as TERMINAL
from retouch.tasks.records import StoredImage as StoredImage
from retouch.tasks.records import Task as Task
from retouch.tasks.records import TaskStatus as TaskStatus

MAX_PAGE_SIZE = 100


class TaskCreate(RequestSchema):
    """`POST /v1/tasks`: which feature, with which inputs (checked against its form)."""

    feature: str = Field(pattern=KEY_PATTERN, description="a feature key, e.g. `cutout`")
    inputs: dict[str, Any] = Field(description="fields of the feature's form_schema")


class OutputImage(Schema):
    url: str = Field(description="a short-lived signed URL of our storage")
    width: int
    height: int
    expires_at: datetime


class TaskOutput(Schema):
    images: list[OutputImage]


class TaskError(Schema):
    code: str
    message: str


class TaskRead(Schema):
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


class TaskPage(Schema):
    items: list[TaskRead]
    next_cursor: str | None


class EventsToken(Schema):
    """`POST /v1/tasks/{id}/events-token`: a stream token for this task's events only."""

    token: str = Field(description="send as `?token=` to `GET /v1/tasks/{id}/events`")
    expires_in: int = Field(description="seconds the token is accepted for")
    events_url: str = Field(description="the events path with the token, for `EventSource`")
