"""Audit DTOs: the entry a write records, the row as read back, and the admin list's query,
item and page."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, Field, model_validator

from retouch.core.schemas import RequestSchema, Schema

MAX_PAGE_SIZE = 100


_RFC3339_DATE = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]")


def _rfc3339_text(value: object) -> object:
    # pydantic would also take a number of seconds ("0.5"): the document says RFC 3339.
    if isinstance(value, str) and not _RFC3339_DATE.match(value):
        raise ValueError("an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z")
    return value


Rfc3339 = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]


@dataclass(frozen=True)
class AuditEntry:
    """One audited event: who did what to which target, the state before and after, and the
    ids that join the row to the request's log lines.

    `actor_user_id` is None for anonymous events (a failed sign-in, a reused refresh token:
    nobody proved who they are). `request_id` and `client_request_id` left None are the
    current request's (`retouch.core.request_context`): our id, and the client's own label.
    """

    actor_user_id: int | None
    action: str  # "<domain or target type>.<verb>", e.g. "user.update", "auth.logout"
    target_type: str
    target_id: str  # the target's public id (or a masked email: never a password or token)
    request_id: str | None = None
    before: dict[str, Any] | None = field(default=None)
    after: dict[str, Any] | None = field(default=None)
    client_request_id: str | None = None


@dataclass(frozen=True)
class AuditFilter:
    """What the admin list keeps; None keeps everything. `actor` is a user's public id."""

    actor: str | None = None
    action: str | None = None
    target_type: str | None = None
    target_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AuditRecord:
    """An `audit_logs` row as read back: `id` is internal (keyset only, never sent)."""

    id: int
    actor: str | None  # the actor's public id
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    client_request_id: str | None
    created_at: datetime


ActorId = Annotated[str, Field(pattern=r"^usr_[A-Za-z0-9_-]{10,40}$")]


class AuditQuery(RequestSchema):
    """`GET /v1/admin/audit`'s query: unknown parameters are a 422, not ignored."""

    actor: ActorId | None = None
    action: Annotated[str | None, Field(pattern=r"^[a-z_]{1,32}\.[a-z_]{1,31}$")] = None
    target_type: Annotated[str | None, Field(pattern=r"^[a-z_]{1,32}$")] = None
    target_id: Annotated[str | None, Field(min_length=1, max_length=64)] = None
    since: Rfc3339 | None = Field(None, description="created at or after (RFC 3339)")
    until: Rfc3339 | None = Field(None, description="created before (RFC 3339)")
    cursor: Annotated[str | None, Field(max_length=512)] = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE_SIZE)] = 20

    @model_validator(mode="after")
    def _ordered(self) -> AuditQuery:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("since must be before until")
        return self

    def audit_filter(self) -> AuditFilter:
        return AuditFilter(
            actor=self.actor,
            action=self.action,
            target_type=self.target_type,
            target_id=self.target_id,
            since=self.since,
            until=self.until,
        )


class AuditRead(Schema):
    """One audit row as admins see it (actor and target by public id)."""

    actor: str | None
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    client_request_id: str | None
    created_at: datetime

    @classmethod
    def of(cls, record: AuditRecord) -> AuditRead:
        """The row without its internal id."""
        return cls.model_validate(record, from_attributes=True)


class AuditPage(Schema):
    """A page of audit rows, newest first; `next_cursor` is None on the last page."""

    items: list[AuditRead]
    next_cursor: str | None
