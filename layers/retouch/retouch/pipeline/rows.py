"""A step's row of `task_steps` (`StepRow`), as read and as first inserted: the records of
`retouch.pipeline.repository`."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from retouch.core.db import Row
from retouch.core.time import from_db_value, to_millis


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


class StepJob(NamedTuple):
    """What `generate` checks of its row when it locks it again after a vendor's handle
    committed: whether it still waits on that job, and how often the job was polled."""

    status: str
    vendor_handle: str | None
    polls: int


def submitted_row(
    row: StepRow,
    *,
    at: int,
    attempt: int,
    fallbacks: list[dict[str, Any]],
    provider_key: str,
    handle: str,
    submitted_at: datetime,
    callback_token_hash: str | None,
) -> StepRow:
    """`row` once provider `at` of its chain took the job `handle`: waiting, not yet polled,
    as `StepRepository.submitted` stores it (the handle cut to its column's 255 characters,
    the time to a `DATETIME(3)`'s milliseconds)."""
    return dataclasses.replace(
        row,
        status="waiting",
        provider_index=at,
        provider_key=provider_key,
        attempt=attempt,
        vendor_handle=handle[:255],
        polls=0,
        submitted_at=to_millis(submitted_at),
        fallbacks=fallbacks,
        callback_token_hash=callback_token_hash,
    )


def _decoded(value: str | Any) -> Any:
    """A `JSON` column's value: text as read, or decoded already (in a `JSON_OBJECT`)."""
    return json.loads(value) if isinstance(value, str | bytes) else value
