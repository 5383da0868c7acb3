"""`/v1/tasks`: create, read, list, cancel, delete and follow the caller's tasks."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from retouch.caller.dependencies import current_streamer, current_user, current_user_with
from retouch.caller.stream_tokens import issue_stream_token
from retouch.core.db import get_database
from retouch.core.errors import raises
from retouch.core.identity import Principal
from retouch.core.redis import get_redis
from retouch.core.security import TokenConfig
from retouch.core.settings import get_settings
from retouch.http.dependencies import IdempotencyKeyHeader
from retouch.http.middleware import ACCESS_KEYS_STATE
from retouch.http.problems import negotiate_language
from retouch.http.rate_limits import rate_limit
from retouch.http.routing import api_router
from retouch.idempotency.errors import IdempotencyKeyInUse, IdempotencyKeyReused
from retouch.queue import get_queue
from retouch.quota.errors import QuotaExceeded
from retouch.storage import get_storage
from retouch.tasks import cancel, service, views
from retouch.tasks.caller_read import owned_task_read
from retouch.tasks.errors import (
    FeatureUnavailable,
    PlanLimitReached,
    TaskNotCancelable,
    TaskNotFound,
)
from retouch.tasks.events import LAST_EVENT_ID_PATTERN, event_stream
from retouch.tasks.schemas import (
    MAX_PAGE_SIZE,
    EventsToken,
    Task,
    TaskCreate,
    TaskPage,
    TaskRead,
    TaskStatus,
)
from retouch.tasks.stream_slots import TooManyStreams
from retouch.users.errors import EmailNotVerified

router = api_router(prefix="/v1/tasks", tags=["tasks"])

Caller = Annotated[Principal, Depends(current_user)]
CallerAndTask = Annotated[
    tuple[Principal, Task | None],
    Depends(current_user_with(lambda request: owned_task_read(request.path_params["task_id"]))),
]
AcceptLanguage = Annotated[str | None, Header()]
TaskId = Annotated[str, Path(max_length=64, description="a task id (`tsk_…`)")]


async def caller_id(caller: Caller) -> str:
    """The rate-limit key of `POST /v1/tasks`: the caller's public id."""
    return caller.public_id


@router.post(
    "",
    status_code=202,
    response_model=TaskRead,
    dependencies=[Depends(rate_limit(key=caller_id))],
)
@raises(
    QuotaExceeded,
    EmailNotVerified,
    FeatureUnavailable,
    PlanLimitReached,
    IdempotencyKeyInUse,
    IdempotencyKeyReused,
)
def create_task(
    request: TaskCreate,
    caller: Caller,
    http_request: Request,
    idempotency_key: IdempotencyKeyHeader = None,
    accept_language: AcceptLanguage = None,
) -> TaskRead:
    """Start a task: `inputs` must satisfy the feature's form and name ready uploads of
    yours; its cost is reserved now and charged only if it succeeds. Send an
    `Idempotency-Key` to retry safely: the same key and body answer the first response."""
    task = service.create_task(
        database=get_database(),
        queue=get_queue(),
        settings=get_settings(),
        principal=caller,
        request=request,
        idempotency_key=idempotency_key,
        language=negotiate_language(accept_language),
    )
    # The task and its feature go on the request's access line (no line of their own).
    http_request.scope["state"][ACCESS_KEYS_STATE] = {"task": task.id, "feature": task.feature}
    return task


@router.get("", response_model=TaskPage)
def list_tasks(
    caller: Caller,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    status: TaskStatus | None = None,
    feature: Annotated[str | None, Query(pattern=r"^[a-z][a-z0-9_]{1,31}$")] = None,
    accept_language: AcceptLanguage = None,
) -> TaskPage:
    """Your tasks, newest first; pass `next_cursor` back as `cursor` for the next page."""
    return views.list_tasks(
        database=get_database(),
        storage=get_storage(),
        settings=get_settings(),
        principal=caller,
        status=status,
        feature=feature,
        cursor=cursor,
        limit=limit,
        language=negotiate_language(accept_language),
    )


@router.get(
    "/{task_id}",
    response_model=TaskRead,
    responses={304: {"description": "Not modified (If-None-Match)"}},
)
def get_task(
    task_id: TaskId,
    caller_and_task: CallerAndTask,
    if_none_match: Annotated[str | None, Header()] = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """One of your tasks; output URLs are signed for a short time. Poll with
    `If-None-Match` for a cheap 304 while nothing changed."""
    _, task = caller_and_task  # the task was read with the caller: one round trip
    view = views.get_attached_task(
        task,
        storage=get_storage(),
        settings=get_settings(),
        language=negotiate_language(accept_language),
    )
    headers = {"ETag": view.etag, "Cache-Control": "private, no-cache"}
    if if_none_match is not None and view.etag in (tag.strip() for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    # The DTO was built and checked by the service: sent as is, not validated a second time.
    return Response(view.task.model_dump_json(), media_type="application/json", headers=headers)


@router.post(
    "/{task_id}/cancel",
    response_model=TaskRead,
)
@raises(TaskNotCancelable)
def cancel_task(
    task_id: TaskId, caller: Caller, accept_language: AcceptLanguage = None
) -> TaskRead:
    """Cancel a queued or running task; its reserved credits return at once."""
    return cancel.cancel_task(
        database=get_database(),
        storage=get_storage(),
        redis=get_redis(),
        queue=get_queue(),
        settings=get_settings(),
        principal=caller,
        task_id=task_id,
        language=negotiate_language(accept_language),
    )


@router.delete("/{task_id}", status_code=204)
def delete_task(task_id: TaskId, caller: Caller) -> Response:
    """Delete a task: it disappears from your list and its images are deleted (an
    unfinished task is canceled first and its credits returned)."""
    cancel.delete_task(
        database=get_database(),
        storage=get_storage(),
        redis=get_redis(),
        queue=get_queue(),
        principal=caller,
        task_id=task_id,
    )
    return Response(status_code=204)


_EVENTS_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-sent events, each `id: <1|2|3>`, `event: task` and `data:` the "
        "task as one line of JSON (the schema): 1 queued, 2 running, 3 finished. Send "
        "`Last-Event-ID` to resume after an event; see docs/events.md.",
        "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/TaskRead"}}},
    },
    204: {"description": "The task is finished and `Last-Event-ID` is its last event: stop"},
}


@router.get("/{task_id}/events", response_class=StreamingResponse, responses=_EVENTS_RESPONSES)
@raises(TooManyStreams)
async def task_events(
    task_id: TaskId,
    caller: Annotated[Principal, Depends(current_streamer)],
    request: Request,
    last_event_id: Annotated[
        str | None,
        Header(pattern=LAST_EVENT_ID_PATTERN, description="the id of the last event you have"),
    ] = None,
    accept_language: AcceptLanguage = None,
) -> Response:
    """Server-sent events of your task's states, from `Last-Event-ID` on, until it finishes.
    Authenticate with `Authorization`, or — from a browser's EventSource, which cannot send
    headers — with `?token=` from `POST /v1/tasks/{task_id}/events-token`. Where the
    platform cannot stream (AWS Lambda behind API Gateway), the answer is the events not yet
    seen with a `retry` delay: EventSource clients reconnect, which is polling; or poll
    `GET /v1/tasks/{id}` with `If-None-Match`."""
    streaming = "aws.event" not in request.scope  # Mangum buffers the whole response
    return await event_stream(
        task_id=task_id,
        principal=caller,
        language=negotiate_language(accept_language),
        streaming=streaming,
        last_event_id=int(last_event_id or 0),
    )


@router.post("/{task_id}/events-token", response_model=EventsToken)
def create_events_token(
    task_id: TaskId, caller_and_task: CallerAndTask, response: Response
) -> EventsToken:
    """A stream token for this task's events, for `EventSource` (`?token=`): it lives
    `RETOUCH_TASK_EVENTS_TOKEN_TTL_S` (5 minutes), opens this task's stream only, and may
    be reused while it lives (EventSource reconnects with the same URL)."""
    caller, task = caller_and_task
    if task is None:
        raise TaskNotFound
    settings = get_settings()
    issued = issue_stream_token(
        config=TokenConfig.from_settings(settings),
        principal=caller,
        task_id=task_id,
        ttl_s=settings.task_events_token_ttl_s,
    )
    response.headers["Cache-Control"] = "no-store"
    return EventsToken(
        token=issued.token,
        expires_in=issued.expires_in,
        events_url=f"/v1/tasks/{task_id}/events?token={issued.token}",
    )
