"""The ids of the request being served, for whatever records it beyond its log lines.

The request-context middleware binds them for the duration of a request: `server` is our own
id (a new UUID4, or the id API Gateway / SCF gave the request), the one in every log line,
the `X-Request-ID` response header, problem bodies and audit rows; `client` is the
`X-Request-ID` the client sent, if printable and at most 128 characters, kept beside it and
never in its place (a client could otherwise make its rows carry another request's id).

A context variable, like the logger's appended keys: the local gateway serves requests in
threads, and every inline route and dependency runs in the request's own context.

The middleware may bind the request's ASGI scope beside the ids: routing writes the matched
route into it later, so `current_route()` names the route template (`/v1/tasks/{task_id}`) to
whatever runs inside the endpoint (the DB layer's slow-statement line), at no cost to requests
that never ask.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar, Token
from typing import Any, NamedTuple


class RequestIds(NamedTuple):
    """Our id of the request, and the client's own label of it (None when it sent none); a
    NamedTuple, as a dataclass costs ~0.4 ms of every cold start."""

    server: str
    client: str | None


_Bound = tuple[RequestIds, Mapping[str, Any] | None]
_current: ContextVar[_Bound | None] = ContextVar("retouch_request_ids", default=None)


def current_request_ids() -> RequestIds | None:
    """The ids of the request this code serves; None outside a request (a job, a step)."""
    bound = _current.get()
    return None if bound is None else bound[0]


def current_route() -> str | None:
    """The template of the route serving the current request (`/v1/tasks/{task_id}`); None
    outside a request, before routing, or when no route matched."""
    bound = _current.get()
    scope = None if bound is None else bound[1]
    route = None if scope is None else scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else None


def bind_request_ids(
    ids: RequestIds, scope: Mapping[str, Any] | None = None
) -> Token[_Bound | None]:
    """Make `ids` (and the request's ASGI `scope`) current until `unbind_request_ids(token)`."""
    return _current.set((ids, scope))


def unbind_request_ids(token: Token[_Bound | None]) -> None:
    _current.reset(token)
