"""`tasks` rows to `Task` records and back (the stored output), shared by the tasks
repository and the caller + task read."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from retouch.core.db import Row
from retouch.core.time import from_db_value
from retouch.tasks.records import StoredImage, Task

#: The columns of a `Task`, in `task_from_row`'s names.
TASK_COLUMNS = (
    "id",
    "public_id",
    "user_id",
    "feature_key",
    "form_version",
    "pipeline_version",
    "status",
    "inputs",
    "output",
    "error_code",
    "cost",
    "hidden",
    "revision",
    "created_at",
    "started_at",
    "finished_at",
)


def output_json(images: Sequence[StoredImage]) -> str:
    """The `output` column of a task with `images`."""
    return json.dumps(
        {"images": [{"key": i.key, "width": i.width, "height": i.height} for i in images]},
        separators=(",", ":"),
    )


def json_column(value: str | Any) -> Any:
    """A `JSON` column's value: text as the driver reads it, or already decoded (a column of
    a `JSON_OBJECT` document)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _images(output: str | dict[str, Any] | None) -> tuple[StoredImage, ...]:
    if not output:
        return ()
    return tuple(
        StoredImage(key=str(image["key"]), width=int(image["width"]), height=int(image["height"]))
        for image in json_column(output).get("images", [])
    )


def _optional(value: datetime | str | None) -> datetime | None:
    return None if value is None else from_db_value(value)


def task_from_row(row: Row) -> Task:
    """A `Task` from its columns: a row as read, or a `JSON_OBJECT` document of them."""
    return Task(
        id=int(row["id"]),
        public_id=row["public_id"],
        user_id=int(row["user_id"]),
        feature_key=row["feature_key"],
        form_version=int(row["form_version"]),
        pipeline_version=int(row["pipeline_version"]),
        status=row["status"],
        inputs=json_column(row["inputs"]),
        images=_images(row["output"]),
        error_code=row["error_code"],
        cost=int(row["cost"]),
        hidden=bool(row["hidden"]),
        revision=int(row["revision"]),
        created_at=from_db_value(row["created_at"]),
        started_at=_optional(row["started_at"]),
        finished_at=_optional(row["finished_at"]),
    )
