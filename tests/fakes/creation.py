"""In-memory `CreationReads` (`retouch.tasks.creation`): the SQL's join answered from the
features, plans and uploads fakes, so its rules are theirs: a plan that is gone means no
limits, an upload counts when it is ready and the caller's."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from retouch.tasks.creation import CreationFacts


class FakeCreationReads:
    def __init__(self, tables: Callable[[], tuple[Any, Any, Any]]) -> None:
        # A closure, not the fakes: a snapshot of this one must not copy their tables.
        self._tables = tables

    def facts(
        self, *, feature_key: str, plan_code: str, user_id: int, upload_ids: Sequence[str]
    ) -> CreationFacts | None:
        features, plans, uploads = self._tables()
        feature = features.get(feature_key)
        if feature is None:
            return None
        plan = plans.get(plan_code)
        ready = uploads.ready_uploads(user_id=user_id, public_ids=upload_ids)
        return CreationFacts(
            enabled=feature.enabled,
            cost=feature.cost,
            allowed_plans=list(feature.allowed_plans),
            form_version=feature.form_version,
            pipeline_version=feature.pipeline_version,
            max_concurrent_tasks=None if plan is None else plan.max_concurrent_tasks,
            max_input_pixels=None if plan is None else plan.max_input_pixels,
            ready_uploads={
                key: (upload.width or 0) * (upload.height or 0) for key, upload in ready.items()
            },
        )
