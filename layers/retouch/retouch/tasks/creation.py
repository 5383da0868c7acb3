"""What `POST /v1/tasks` judges before its transaction, read in one statement: the feature's
terms (switched on, cost, plans, current form and pipeline), the caller's plan limits and the
named uploads that are ready and the caller's. The form and pipeline documents come from a
per-instance `catalog.versions.Versions`: a version is only ever inserted, never changed, so
once read it holds.

Nothing here is locked, as nothing of it was before: the feature, the plan and the uploads
were read from the creating transaction's snapshot, which is no fresher than this read, taken
a moment earlier with the latest committed data. The count of unfinished tasks, which must be
exact, is still read under the account's lock (`retouch.tasks.limits`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from weakref import WeakKeyDictionary

from retouch.catalog.schemas import FormSchema, PipelineSchema
from retouch.catalog.versions import Versions
from retouch.core.db import UnitOfWork
from retouch.core.units import Transaction, Transactions, sql_adapter

#: An upload's public id (`new_public_id("upl")`: 16 random bytes, URL-safe base64).
_UPLOAD_ID = re.compile(r"upl_[A-Za-z0-9_-]{22}")
#: More candidate uploads than this in one body: the uploads are read after the inputs are
#: checked against the form (a statement of their own), never as one unbounded IN list.
MAX_CANDIDATES = 16


@dataclass(frozen=True, slots=True)
class CreationFacts:
    """The feature's terms, the plan's limits (None: no limit, or no such plan) and the ready
    uploads of the caller among those asked for (public id → pixels, 0 when unknown)."""

    enabled: bool
    cost: int
    allowed_plans: list[str]
    form_version: int | None
    pipeline_version: int | None
    max_concurrent_tasks: int | None
    max_input_pixels: int | None
    ready_uploads: dict[str, int] = field(default_factory=dict)


class CreationReads(Protocol):
    """The one read of a task's creation."""

    def facts(
        self, *, feature_key: str, plan_code: str, user_id: int, upload_ids: Sequence[str]
    ) -> CreationFacts | None:
        """The facts, or None when there is no such feature. `upload_ids` may be empty."""
        ...


def upload_candidates(inputs: Mapping[str, Any]) -> list[str] | None:
    """The inputs' values that could name uploads (an upload field is a top-level string),
    sorted; None when there are more than MAX_CANDIDATES."""
    found = {v for v in inputs.values() if isinstance(v, str) and _UPLOAD_ID.fullmatch(v)}
    return None if len(found) > MAX_CANDIDATES else sorted(found)


# One column per row: each column costs the client a descriptor to parse (pymysql, in Python),
# ten of them most of this statement's CPU; one JSON document costs one `json.loads`. A row
# per upload found (LEFT JOIN: one row with a null `upload_id` when none is).
_FACTS = (
    "SELECT JSON_OBJECT('enabled', f.enabled, 'cost', f.cost, 'allowed_plans', f.allowed_plans, "
    "'form_version', f.form_version, 'pipeline_version', f.pipeline_version, "
    "'max_concurrent_tasks', p.max_concurrent_tasks, 'max_input_pixels', p.max_input_pixels, "
    "'upload_id', u.public_id, 'width', u.width, 'height', u.height) AS facts "
    "FROM feature_definitions f "
    "LEFT JOIN plans p ON p.code = %s "
    "LEFT JOIN uploads u ON u.user_id = %s AND u.status = 'ready' AND u.public_id IN %s "
    "WHERE f.feature_key = %s"
)


@sql_adapter(CreationReads)
class MySQLCreationReads:
    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    def facts(
        self, *, feature_key: str, plan_code: str, user_id: int, upload_ids: Sequence[str]
    ) -> CreationFacts | None:
        # No upload named: an IN list that matches nothing (no public id is empty), so the
        # statement keeps one text.
        names = tuple(upload_ids) or ("",)
        found = self._uow.fetch_all(_FACTS, (plan_code, user_id, names, feature_key))
        if not found:
            return None
        rows = [json.loads(row["facts"]) for row in found]
        first = rows[0]
        plans = first["allowed_plans"]
        return CreationFacts(
            enabled=bool(first["enabled"]),
            cost=int(first["cost"]),
            # A JSON column is text to JSON_OBJECT: the list arrives as its JSON text.
            allowed_plans=json.loads(plans) if isinstance(plans, str) else plans,
            form_version=first["form_version"],
            pipeline_version=first["pipeline_version"],
            max_concurrent_tasks=first["max_concurrent_tasks"],
            max_input_pixels=first["max_input_pixels"],
            ready_uploads={
                row["upload_id"]: (row["width"] or 0) * (row["height"] or 0)
                for row in rows
                if row["upload_id"] is not None
            },
        )


_versions: WeakKeyDictionary[Transactions, Versions] = WeakKeyDictionary()


def form_and_pipeline(
    uow: Transaction, database: Transactions, *, feature_key: str, form: int, pipeline: int
) -> tuple[FormSchema | None, PipelineSchema | None]:
    """The feature's form and pipeline versions, from this instance's `Versions` of
    `database` (read through `uow` the first time; a version that does not exist is not
    remembered)."""
    kept = _versions.get(database)
    if kept is None:
        kept = _versions.setdefault(database, Versions())
    return kept.form(uow, feature_key, form), kept.pipeline(uow, feature_key, pipeline)
