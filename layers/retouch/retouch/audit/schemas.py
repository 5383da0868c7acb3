"""Audit DTOs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class AuditEntry:
    """One admin write: who did what to which target, the state before and after, and the
    request id that joins the row to the request's log lines."""

    actor_user_id: int
    action: str  # "<target type>.<verb>", e.g. "user.update", "user.grant_credits"
    target_type: str
    target_id: str  # the target's public id
    request_id: str | None
    before: dict[str, Any] | None = field(default=None)
    after: dict[str, Any] | None = field(default=None)
