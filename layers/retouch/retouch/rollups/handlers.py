"""The rollup job's entry point (`functions/jobs/rollup`): on its schedule, the recompute
window; invoked by hand with `{"since": ..., "until": ...}` (RFC 3339), a backfill."""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator

from retouch.core.db import get_database
from retouch.rollups.service import backfill, recompute_recent

#: The longest backfill one invocation takes (about 31 days of hours).
MAX_BACKFILL_HOURS = 24 * 31


class Backfill(BaseModel):
    """A backfill's range: every hour, day and week overlapping [since, until)."""

    model_config = ConfigDict(extra="forbid")

    since: AwareDatetime
    until: AwareDatetime

    @model_validator(mode="after")
    def _bounded(self) -> Backfill:
        hours = (self.until - self.since).total_seconds() / 3600
        if not 0 < hours <= MAX_BACKFILL_HOURS:
            raise ValueError(f"until must follow since by at most {MAX_BACKFILL_HOURS} hours")
        return self


def roll_up(event: dict[str, Any]) -> dict[str, int]:
    """Recompute the rollups: the window on a schedule, or the event's backfill range."""
    if "since" in event or "until" in event:
        wanted = Backfill.model_validate(event)
        return backfill(database=get_database("job"), since=wanted.since, until=wanted.until)
    return recompute_recent(database=get_database("job"))
