"""Channel names and publishing of task events."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from retouch.core.logging import logger

if TYPE_CHECKING:
    from retouch.core.redis import RedisClient


def task_channel(public_id: str) -> str:
    """The pub/sub channel of one task (`task:{tsk_…}:events`)."""
    return f"task:{{{public_id}}}:events"


def publish_task_event(client: RedisClient, public_id: str, event: dict[str, Any]) -> int:
    """Publish `event` (JSON) on the task's channel; returns the number of listeners. Losing
    Redis loses only the live update (the state is in MySQL), so a failure is logged."""
    from redis import RedisError  # loaded with `client` already; not at import (the reaper)

    try:
        return int(client.publish(task_channel(public_id), json.dumps(event, default=str)))
    except RedisError as exc:
        logger.warning(
            "task event not published", extra={"task": public_id, "error": type(exc).__name__}
        )
        return 0


def publish_task_events(client: RedisClient, events: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """`publish_task_event` for each (task public id, event), in one round trip (a
    pipeline, not a transaction); a failure is logged, as each one's would be."""
    if not events:
        return
    from redis import RedisError  # as in publish_task_event

    try:
        pipe = client.pipeline(transaction=False)
        for public_id, event in events:
            pipe.publish(task_channel(public_id), json.dumps(event, default=str))
        pipe.execute()
    except RedisError as exc:
        logger.warning(
            "task events not published", extra={"events": len(events), "error": type(exc).__name__}
        )
