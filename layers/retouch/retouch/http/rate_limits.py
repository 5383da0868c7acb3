"""HTTP rate limits: every request per client IP, and some routes per caller on top.

The per-IP limit (`RETOUCH_RATE_LIMIT_PER_IP_PER_MIN`) is counted by the request-context
middleware before routing, for every route, health checks and unknown paths included. A route
listed in `ROUTE_LIMITS` is also limited per caller — the user, known only once authentication
has run — so it declares `Depends(rate_limit(key=<dependency giving the caller's id>))`;
`create_app` refuses an app where the table and the declarations disagree.

A route's limit is counted in the per-IP round trip when it can be (`_folded_step`): the route
has no path parameters, the bearer token verifies (signature, expiry, issuer, audience) and
the caller cache holds that caller's record and the token's session live — the very caller
the dependency will admit. Otherwise (no cached caller, a token that does not verify, Redis
unreachable) the route's dependency counts it in a round trip of its own once authentication
has run, as always: a token that is forged or whose session ended never spends a user's
allowance.

Both fail open: with Redis unreachable the request proceeds without RateLimit headers and the
limiter logs a warning (login, which must fail closed, calls the limiter itself). A response
carries the headers of the request's tightest decision; a 429 carries those of the limit that
refused it, with `Retry-After`.
"""

# No `from __future__ import annotations`: FastAPI resolves the dependency's signature at
# route creation, and a string annotation could not see the closure's `key`.

import ipaddress
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from fastapi import Depends, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute
from starlette.types import Scope

from retouch.core.caller_cache import (
    PREFETCH_STATE,
    HashRead,
    claimed,
    prefetch_read,
    prefetched,
)
from retouch.core.errors import AppError
from retouch.core.ratelimit import (
    Decision,
    Limit,
    Limits,
    RateLimited,
    RateLimiter,
    configured_limits,
    decision_of,
    get_rate_limiter,
    step_of,
)
from retouch.core.settings import get_settings

#: Limits on top of the per-IP one, by "METHOD /route/template"; the key is the route's caller.
ROUTE_LIMITS: Mapping[str, Callable[[Limits], Limit]] = {
    "POST /v1/tasks": lambda limits: limits.tasks_per_user,
}

DECISION_STATE = "rate_limit"  # scope["state"] entry: the request's tightest decision
#: scope["state"] entry: (storage key, Decision) of the route's limit counted by the middleware
ROUTE_STEP_STATE = "route_rate_limit"
UNKNOWN_CLIENT = "unknown"
_LIMIT_HEADER = b"ratelimit-limit"
_route_limit_dependencies: set[Callable[..., Awaitable[None]]] = set()

RawHeaders = list[tuple[bytes, bytes]]


def limiter_for(scope: Scope) -> RateLimiter:
    """The limiter given to `create_app`, else the process's Redis limiter."""
    injected: RateLimiter | None = scope["app"].state.rate_limiter
    return injected if injected is not None else get_rate_limiter()


def client_address(scope: Scope) -> str:
    """The peer address the gateway saw (API Gateway's `sourceIp`, put in scope["client"]).

    X-Forwarded-For is not read: behind API Gateway the peer is the client, and the header is
    whatever the client wrote. IPv6 clients are counted per /64, the block one subscriber holds.
    """
    client = scope.get("client")
    host: str | None = client[0] if client else None
    if not host:
        return UNKNOWN_CLIENT
    if ":" in host:
        try:
            return str(ipaddress.IPv6Network((host, 64), strict=False))
        except ValueError:
            return host
    return host


def _note(scope: Scope, decision: Decision) -> None:
    """Keep the decision closest to refusal; its headers go on the response."""
    state = scope["state"]
    current: Decision | None = state.get(DECISION_STATE)
    if decision.enforced and (current is None or decision.remaining < current.remaining):
        state[DECISION_STATE] = decision


def _enforce(scope: Scope, limit: Limit, key: str, read: HashRead | None = None) -> Decision:
    decision = limiter_for(scope).hit(limit, key, fail_open=True, read=read)
    _note(scope, decision)
    if not decision.allowed:
        raise RateLimited.from_decision(decision)
    return decision


def enforce_client_limit(scope: Scope, authorization: str | None = None) -> None:
    """Count the request against the per-IP limit; raise RateLimited when it is spent.

    With a bearer token (`authorization`, the header), the same round trip reads the cached
    record of the caller the token claims (`retouch.core.caller_cache`), kept in the scope's
    state for the caller dependency, which trusts it only once it has verified the token."""
    limit, address = configured_limits().per_ip, client_address(scope)
    claim = claimed(authorization) if get_settings().caller_cache_ttl_s > 0 else None
    if claim is None:
        _enforce(scope, limit, address)
        return
    route = _folded_step(scope, authorization or "", claim[0])
    step = None if route is None else step_of(*route)
    decision = _enforce(scope, limit, address, prefetch_read(*claim, step))
    if decision.read:  # empty when nothing was read (Redis skipped or failed, a memory limiter)
        scope["state"][PREFETCH_STATE] = prefetched(*claim, decision.read)
    if route is not None and step is not None and len(decision.read) == 7:
        counted = decision_of(route[0], [int(value or 0) for value in decision.read[3:]])
        scope["state"][ROUTE_STEP_STATE] = (step[0], counted)


def _folded_step(scope: Scope, authorization: str, subject: str) -> tuple[Limit, str] | None:
    """The route's per-caller limit and key to count in the per-IP round trip: for a route of
    ROUTE_LIMITS without path parameters, when the bearer token verifies and names `subject`
    (the script then counts it only if the cache holds that caller with the token's session
    live). The token check is remembered (`core.security`): the caller dependency's own check
    of the same token costs nothing more."""
    entry = ROUTE_LIMITS.get(f"{scope['method']} {scope['path']}")
    if entry is None or "{" in scope["path"]:
        return None
    from retouch.core.security import TokenConfig, verify_access_token  # not on every route

    try:
        config = TokenConfig.from_settings(get_settings())
        claims = verify_access_token(authorization[7:].strip(), config=config)
    except AppError:  # the dependency refuses it, before any per-caller count
        return None
    return (entry(configured_limits()), subject) if claims.subject == subject else None


def add_rate_limit_headers(headers: RawHeaders, scope: Scope) -> None:
    """Append RateLimit-* of the request's decision, unless the response (a 429) has them."""
    decision: Decision | None = scope["state"].get(DECISION_STATE)
    if decision is None or any(name.lower() == _LIMIT_HEADER for name, _ in headers):
        return
    headers.extend(
        (name.lower().encode(), value.encode()) for name, value in decision.headers().items()
    )


def rate_limit(*, key: Callable[..., Any]) -> Callable[..., Awaitable[None]]:
    """A dependency limiting its route per caller, by the route's entry in ROUTE_LIMITS.

    `key` is a dependency returning the caller's id as a string (e.g. the user's public id);
    make it `async def` or an inline one, since a sync dependency runs in a worker thread.
    """

    async def limit_route(request: Request, caller: str = Depends(key)) -> None:
        scope = request.scope
        limit = ROUTE_LIMITS[f"{scope['method']} {scope['route'].path}"](configured_limits())
        counted: tuple[str, Decision] | None = scope["state"].get(ROUTE_STEP_STATE)
        if counted is None or counted[0] != step_of(limit, caller)[0]:
            _enforce(scope, limit, caller)
            return
        _note(scope, counted[1])  # counted by the middleware, for this very caller
        if not counted[1].allowed:
            raise RateLimited.from_decision(counted[1])

    _route_limit_dependencies.add(limit_route)
    return limit_route


def _declares_route_limit(dependant: Dependant) -> bool:
    return any(
        sub.call in _route_limit_dependencies or _declares_route_limit(sub)
        for sub in dependant.dependencies
    )


def check_route_limits(routes: Iterable[BaseRoute]) -> None:
    """Raise unless the routes in ROUTE_LIMITS, and only they, declare `rate_limit(...)`.

    Given a domain router's own routes (FastAPI includes routers lazily, so an app's routes
    are not all listed on the app).
    """
    for route in routes:
        if not isinstance(route, APIRoute):
            continue
        declared = _declares_route_limit(route.dependant)
        for method in route.methods or ():
            listed = f"{method} {route.path}" in ROUTE_LIMITS
            if listed and not declared:
                raise RuntimeError(f"{method} {route.path} is in ROUTE_LIMITS: add rate_limit()")
            if declared and not listed:
                raise RuntimeError(f"{method} {route.path} declares rate_limit(): list it")
