"""`GET /v1/tasks/{id}/events`: server-sent events of a task's status changes.

Each event is `event: task` with the task DTO as `data`. The stream starts with the stored
state (pub/sub keeps nothing for late subscribers), then re-reads and sends the task on every
message of its channel, until the task is terminal or `RETOUCH_TASK_EVENTS_MAX_S` passes;
idle streams get a comment every `RETOUCH_TASK_EVENTS_HEARTBEAT_S` so proxies keep them
open. Where the runtime buffers responses, or Redis is down, the stream is one event and a
`retry:` delay — EventSource reconnects, which is polling.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from functools import partial

import anyio.to_thread
import redis
from fastapi.responses import StreamingResponse

from retouch.core.db import get_database
from retouch.core.identity import Principal
from retouch.core.logging import logger
from retouch.core.redis import get_redis
from retouch.core.settings import get_settings
from retouch.notify import task_channel
from retouch.storage import get_storage
from retouch.tasks import views
from retouch.tasks.schemas import TERMINAL, TaskRead

RETRY_MS = 3000
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse_event(task: TaskRead) -> bytes:
    """One `task` event (its data is one line of JSON)."""
    return f"event: task\ndata: {task.model_dump_json()}\n\n".encode()


async def event_stream(
    *, task_id: str, principal: Principal, language: str, streaming: bool
) -> StreamingResponse:
    """The response of the events route; NotFound before any byte is sent."""
    settings = get_settings()

    def read() -> TaskRead:
        return views.get_task(
            database=get_database(),
            storage=get_storage(),
            settings=settings,
            principal=principal,
            task_id=task_id,
            language=language,
        ).task

    first = read()  # raises TaskNotFound for anyone else's task
    retry = f"retry: {RETRY_MS}\n\n".encode()
    if not streaming or first.status in TERMINAL:
        return _response(_once(retry + sse_event(first)))
    try:
        pubsub = get_redis().pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        pubsub.subscribe(task_channel(task_id))
    except redis.RedisError as exc:
        logger.warning("task events without Redis: one event", extra={"error": type(exc).__name__})
        return _response(_once(retry + sse_event(first)))
    # Read again now that we listen, so a change between the two reads is not missed.
    return _response(
        _follow(
            pubsub,
            read,
            first=retry,
            max_s=settings.task_events_max_s,
            heartbeat_s=settings.task_events_heartbeat_s,
        )
    )


def _response(body: AsyncIterator[bytes]) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers=_HEADERS)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def _follow(
    pubsub: redis.client.PubSub,
    read: Callable[[], TaskRead],
    *,
    first: bytes,
    max_s: float,
    heartbeat_s: float,
) -> AsyncIterator[bytes]:
    try:
        task = await anyio.to_thread.run_sync(read)
        yield first + sse_event(task)
        deadline = time.monotonic() + max_s
        quiet_since = time.monotonic()
        while task.status not in TERMINAL and time.monotonic() < deadline:
            wait = min(1.0, max(0.0, deadline - time.monotonic()))
            message = await anyio.to_thread.run_sync(partial(pubsub.get_message, timeout=wait))
            if message is not None:
                task = await anyio.to_thread.run_sync(read)
                yield sse_event(task)
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= heartbeat_s:
                yield b": keep-alive\n\n"
                quiet_since = time.monotonic()
    except redis.RedisError as exc:
        logger.warning("task event stream ended by Redis", extra={"error": type(exc).__name__})
    finally:
        pubsub.close()
