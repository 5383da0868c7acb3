"""A step's row of `task_steps` (`StepRow`), as read and as first inserted: the records of
`retouch.pipeline.repository`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from retouch.core.db import Row
from retouch.core.time import from_db_value


@dataclass(frozen=True, slots=True)
class StepRow:
    """A `task_steps` row: where one step of one task stands."""

    id: int
    task_id: int
    step_index: int
    step: str
    status: str
    provider_index: int
    provider_key: str | None
    attempt: int
    vendor_handle: str | None
    polls: int
    deadline_at: datetime | None
    submitted_at: datetime | None
    state: dict[str, Any]
    fallbacks: list[dict[str, Any]]
    #: SHA-256 (hex) of the secret in the callback URL the running job was given, if any.
    callback_token_hash: str | None = None


def step_from_row(row: Row) -> StepRow:
    """A `StepRow` from its columns: a row as read, or a `JSON_OBJECT` document of them."""
    return StepRow(
        id=int(row["id"]),
        task_id=int(row["task_id"]),
        step_index=int(row["step_index"]),
        step=row["step"],
        status=row["status"],
        provider_index=int(row["provider_index"]),
        provider_key=row["provider_key"],
        attempt=int(row["attempt"]),
        vendor_handle=row["vendor_handle"],
        polls=int(row["polls"]),
        deadline_at=None if row["deadline_at"] is None else from_db_value(row["deadline_at"]),
        submitted_at=None if row["submitted_at"] is None else from_db_value(row["submitted_at"]),
        state=_decoded(row["state"]) if row["state"] else {},
        fallbacks=_decoded(row["fallbacks"]) if row["fallbacks"] else [],
        callback_token_hash=row["callback_token_hash"],
    )


def fresh_step_row(
    step_id: int, task_id: int, index: int, step: str, deadline_at: datetime | None
) -> StepRow:
    """A step's row as `begin` inserts it: what it was given and the table's defaults
    (migration 0008)."""
    return StepRow(
        id=step_id,
        task_id=task_id,
        step_index=index,
        step=step,
        status="running",
        provider_index=0,
        provider_key=None,
        attempt=0,
        vendor_handle=None,
        polls=0,
        deadline_at=deadline_at,
        submitted_at=None,
        state={},
        fallbacks=[],
    )


def _decoded(value: str | Any) -> Any:
    """A `JSON` column's value: text as read, or decoded already (in a `JSON_OBJECT`)."""
    return json.loads(value) if isinstance(value, str | bytes) else value
