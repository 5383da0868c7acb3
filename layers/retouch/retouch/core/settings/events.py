"""Task event streams for browsers: the stream token's life and how many streams one user may
hold open (`GET /v1/tasks/{id}/events`; see docs/events.md)."""

from __future__ import annotations

from pydantic import Field

from retouch.core.settings.base import SettingsGroup


class EventsSettings(SettingsGroup):
    """Stream tokens and the per-user cap on open event streams."""

    task_events_token_ttl_s: int = Field(
        300,
        ge=30,
        le=3600,
        description="a stream token from POST /v1/tasks/{id}/events-token lives this long",
    )
    task_events_streams_per_user: int = Field(
        5, ge=1, le=100, description="event streams one user may hold open at once"
    )
