"""`GET /v1/tasks/{id}/events`: server-sent events of a task's status changes, resumable.

Each event is `event: task`, an `id:` and the task DTO as `data` (one line of JSON). A task
passes through at most three states, in order — queued, running, finished (succeeded, failed
or canceled) — and each is one event whose id is its place: `1`, `2`, `3`. A client that
reconnects with `Last-Event-ID: n` gets every state after `n` and none before it, so nothing
is missed or repeated; a state the task went through while nobody listened is sent as the
task was in it (a running task is its row without its ending; a task canceled while queued
never ran, so it has no `2`). A finished task asked for after its last event answers 204,
which tells `EventSource` to stop reconnecting.

The stream starts with the stored state (pub/sub keeps nothing for late subscribers), then
re-reads the task on every message of its channel, until the task is finished or
`RETOUCH_TASK_EVENTS_MAX_S` passes; idle streams get a comment every
`RETOUCH_TASK_EVENTS_HEARTBEAT_S` so proxies keep them open. An open stream holds one of the
user's `RETOUCH_TASK_EVENTS_STREAMS_PER_USER` slots (`stream_slots`). Where the runtime
buffers responses, or Redis is down, the answer is the events not yet seen and a `retry:`
delay — EventSource reconnects, which is polling.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from functools import partial

import anyio.to_thread
import redis
from fastapi import Response
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
from retouch.tasks.stream_slots import give_back, take_slot

RETRY_MS = 3000
LAST_EVENT_ID = 3  # the finished state's event id: nothing follows it
LAST_EVENT_ID_PATTERN = r"^[0-3]?$"
_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_ENDED = {"finished_at": None, "output": None, "error": None}


def event_id(task: TaskRead) -> int:
    """The id of the event of the task's current state."""
    if task.status in TERMINAL:
        return LAST_EVENT_ID
    return 2 if task.status == "running" else 1


def events_after(last: int, task: TaskRead) -> list[tuple[int, TaskRead]]:
    """The events a client that has seen up to `last` has not: each state since, in order."""
    current = event_id(task)
    events: list[tuple[int, TaskRead]] = []
    for number in range(last + 1, current + 1):
        if number == current:
            events.append((number, task))
        elif number == 1:
            queued = {**_ENDED, "status": "queued", "started_at": None}
            events.append((number, task.model_copy(update=queued)))
        elif task.started_at is not None:  # 2, for a task that ran before it finished
            events.append((number, task.model_copy(update={**_ENDED, "status": "running"})))
    return events


def sse_events(events: list[tuple[int, TaskRead]]) -> bytes:
    """`task` events, each with its id (its data is one line of JSON)."""
    return b"".join(
        f"id: {number}\nevent: task\ndata: {task.model_dump_json()}\n\n".encode()
        for number, task in events
    )


async def event_stream(
    *, task_id: str, principal: Principal, language: str, streaming: bool, last_event_id: int
) -> Response:
    """The response of the events route; NotFound or TooManyStreams before any byte."""
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
    if first.status in TERMINAL and last_event_id >= LAST_EVENT_ID:
        return Response(status_code=204, headers=_HEADERS)
    retry = f"retry: {RETRY_MS}\n\n".encode()
    once = retry + sse_events(events_after(last_event_id, first))
    if not streaming or first.status in TERMINAL:
        return _response(_once(once))
    try:
        client = get_redis()
        pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
        pubsub.subscribe(task_channel(task_id))
    except redis.RedisError as exc:
        logger.warning("task events without Redis: one answer", extra={"error": type(exc).__name__})
        return _response(_once(once))
    try:
        slot = take_slot(
            client,
            principal.public_id,
            cap=settings.task_events_streams_per_user,
            hold_s=settings.task_events_max_s,
        )
    except redis.RedisError as exc:
        pubsub.close()
        logger.warning("task events without Redis: one answer", extra={"error": type(exc).__name__})
        return _response(_once(once))
    except BaseException:
        pubsub.close()  # TooManyStreams: answered as a problem, nothing was sent
        raise
    # Read again now that we listen, so a change between the two reads is not missed.
    return _response(
        _follow(
            pubsub,
            read,
            first=retry,
            last=last_event_id,
            timing=(settings.task_events_max_s, settings.task_events_heartbeat_s),
            release=partial(give_back, client, principal.public_id, slot),
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
    last: int,
    timing: tuple[float, float],
    release: Callable[[], object],
) -> AsyncIterator[bytes]:
    max_s, heartbeat_s = timing
    try:
        task = await anyio.to_thread.run_sync(read)
        yield first + sse_events(events_after(last, task))
        last = event_id(task)
        deadline = time.monotonic() + max_s
        quiet_since = time.monotonic()
        while task.status not in TERMINAL and time.monotonic() < deadline:
            wait = min(1.0, max(0.0, deadline - time.monotonic()))
            message = await anyio.to_thread.run_sync(partial(pubsub.get_message, timeout=wait))
            if message is not None:
                task = await anyio.to_thread.run_sync(read)
                fresh = events_after(last, task)
                if fresh:
                    yield sse_events(fresh)
                last = max(last, event_id(task))
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= heartbeat_s:
                yield b": keep-alive\n\n"
                quiet_since = time.monotonic()
    except redis.RedisError as exc:
        logger.warning("task event stream ended by Redis", extra={"error": type(exc).__name__})
    finally:
        pubsub.close()
        try:
            release()
        except redis.RedisError as exc:
            logger.warning("stream slot not given back", extra={"error": type(exc).__name__})
