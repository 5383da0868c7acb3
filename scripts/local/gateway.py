"""The local API gateway: every HTTP function of template.yaml behind one port.

Like API Gateway's REST API with Lambda proxy integration: a request is matched to the route of
a function (static segments beat `{param}`, which beats `{proxy+}`), turned into a REST v1
proxy event, handed to that function's real handler, and the Lambda response is turned back
into HTTP. `/docs` and `/openapi.json` document every function at once.

A request for a function is served straight from the ASGI scope (`FunctionRoutes` in front
of the gateway's own Starlette routes, `Gateway.serve`): its headers decoded once, the routes
that may match its first two segments tried (`RouteTable`), the response sent as it came
back, with no Starlette request, URL or response built on the way.

With `consumers=True`, the lifespan also runs a consumer thread per SQS event of the template
(`scripts.local.consumers`), so queue-triggered functions receive what is published to Redis.

Handlers run in worker threads, each with its own event loop (Mangum runs the app on the
current thread's loop) and, through retouch's per-thread client, its own database connection.
Each function has a pool of its own, as each Lambda function or SCF function scales on its own
instances: a flood of one route (sign-ups hashing passwords) queues behind itself, never in
front of /health or any other function's requests. Lambda gives every concurrent request its
own instance; locally the Powertools
logger and metrics are shared by the workers, so under concurrent requests a log line may carry
a neighbour's request id.
"""

from __future__ import annotations

import asyncio
import base64
import re
import sys
import time
import traceback
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.routing import Route as StarletteRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from retouch.core.errors import AppError, InternalError, MethodNotAllowed, NotFound
from retouch.core.settings import get_settings
from retouch.storage import LocalStorage
from scripts.local.consumers import ConsumerThreads, QueueConsumer, queue_consumers
from scripts.local.gateway_problems import gateway_problem, gateway_request_id
from scripts.local.lambda_runtime import FakeLambdaContext, new_event_loop
from scripts.local.sam import FunctionSpec, LambdaHandler, Route, Template, load_module
from scripts.local.scheduler import ScheduledJob, run_schedules, scheduled_jobs
from scripts.local.storage_gateway import storage_routes
from scripts.openapi import ROOT
from scripts.openapi import document as openapi_document

STAGE = "local"
# Swagger UI's files, from npm's swagger-ui-dist (tools/openapi, installed by scripts/setup).
SWAGGER_UI_ASSETS = ROOT / "tools" / "openapi" / "node_modules" / "swagger-ui-dist"
DOCS_ASSETS_PATH = "/docs/assets"
HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_TEXT_TYPES = re.compile(
    r"^(text/|application/(json|problem\+json|xml|javascript|x-www-form-urlencoded)"
    r"|application/[\w.+-]+\+(json|xml))"
)


@dataclass(frozen=True, slots=True)
class LoadedFunction:
    """A function of the template, imported once: its handler and, for HTTP, its app."""

    spec: FunctionSpec
    handler: LambdaHandler
    app: FastAPI | None


@dataclass(frozen=True, slots=True)
class RouteTarget:
    """A route of the template bound to the function that serves it."""

    route: Route
    function: LoadedFunction
    pattern: re.Pattern[str]

    @property
    def specificity(self) -> tuple[int, int, int]:
        """Sort key, most specific first: API Gateway prefers static segments, then `{param}`,
        and a greedy `{proxy+}` last."""
        segments = [part for part in self.route.path.split("/") if part]
        greedy = sum(part.endswith("+}") for part in segments)
        static = sum(not part.startswith("{") for part in segments)
        return (greedy, -static, -len(segments))

    def matches_method(self, method: str) -> bool:
        return self.route.method in ("ANY", method)

    def may_match(self, head: tuple[str, ...]) -> bool:
        """False only when a literal one of the route's first segments differs from the
        path's (`head`): the route cannot match it. True leaves it to the pattern."""
        segments = self.route.path.strip("/").split("/")
        for position, wanted in enumerate(head):
            if position >= len(segments):
                return False
            segment = segments[position]
            if segment.endswith("+}"):
                return True
            if not segment.startswith("{") and segment != wanted:
                return False
        return True


def compile_path(template_path: str) -> re.Pattern[str]:
    """`/v1/tasks/{id}` → a regex with a group per parameter; `{proxy+}` spans segments."""
    parts = []
    for segment in template_path.strip("/").split("/"):
        parameter = re.fullmatch(r"\{(\w+)(\+?)\}", segment)
        if parameter is None:
            parts.append(re.escape(segment))
        elif parameter.group(2):
            parts.append(f"(?P<{parameter.group(1)}>.+)")
        else:
            parts.append(f"(?P<{parameter.group(1)}>[^/]+)")
    return re.compile("/" + "/".join(parts) if parts != [""] else "/")


def route_targets(functions: Sequence[LoadedFunction]) -> list[RouteTarget]:
    """One target per distinct (method, path), most specific first. The REST (`Api`) event is
    preferred when a function declares the same route for both APIs. The REST API's OPTIONS
    routes (CORS preflights on AWS) are not targets: a preflight goes to the function serving
    the method it asks about (`Gateway.match`)."""
    targets: dict[tuple[str, str], RouteTarget] = {}
    for function in functions:
        for route in sorted(function.spec.routes, key=lambda item: item.event_type != "Api"):
            if route.method == "OPTIONS":
                continue
            key = (route.method, route.path)
            if key not in targets:
                targets[key] = RouteTarget(route, function, compile_path(route.path))
    return sorted(targets.values(), key=lambda target: target.specificity)


#: Paths of the gateway's own routes; every other request goes straight to `Gateway.serve`.
_OWN_PATHS = frozenset({"/openapi.json", "/docs"})
_OWN_PREFIXES = ("/docs/assets/", "/_storage/")
#: Candidate routes are remembered for this many distinct first segments (a client can send
#: any path: past the bound they are computed each time, never kept).
_HEADS_KEPT = 256


def path_head(path: str) -> tuple[str, ...]:
    """A path's first two segments: the key of its candidate routes."""
    return tuple(path.strip("/").split("/", 2)[:2])


class RouteTable:
    """The targets in API Gateway's order, with the candidates of each path's first two
    segments remembered, so a request tries the few routes that may match it."""

    def __init__(self, targets: Sequence[RouteTarget]) -> None:
        self.targets = list(targets)
        self._candidates: dict[tuple[str, ...], list[RouteTarget]] = {}

    def match(
        self, method: str, path: str, *, preflight_for: str | None = None
    ) -> tuple[RouteTarget, dict[str, str]] | AppError:
        """The route for `method` and `path`. A CORS preflight (`OPTIONS` naming the method it
        asks about in `preflight_for`) goes to the function that serves that method, whose
        CORS middleware answers it, as API Gateway's CORS configuration does in the cloud."""
        wanted = preflight_for if method == "OPTIONS" and preflight_for else method
        allowed: list[str] = []
        for target in self.candidates(path):
            found = target.pattern.fullmatch(path)
            if found is None:
                continue
            if target.matches_method(wanted):
                return target, found.groupdict()
            allowed.append(target.route.method)
        if allowed:
            return MethodNotAllowed(headers={"Allow": ", ".join(sorted(set(allowed)))})
        return NotFound(f"No route for {method} {path}")

    def candidates(self, path: str) -> list[RouteTarget]:
        """The targets that may match `path`, in the targets' order (most specific first)."""
        head = path_head(path)
        found = self._candidates.get(head)
        if found is None:
            found = [target for target in self.targets if target.may_match(head)]
            if len(self._candidates) < _HEADS_KEPT:
                self._candidates[head] = found
        return found


def encode_body(body: bytes, content_type: str | None) -> tuple[str | None, bool]:
    """The event's `body` and `isBase64Encoded`: text types as text, anything else base64."""
    if not body:
        return None, False
    if content_type and _TEXT_TYPES.match(content_type.lower()):
        try:
            return body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(body).decode("ascii"), True


def rest_event(
    *,
    target: RouteTarget,
    method: str,
    path: str,
    path_parameters: Mapping[str, str],
    headers: Sequence[tuple[str, str]],
    query: Sequence[tuple[str, str]],
    body: bytes,
    source_ip: str,
    request_id: str,
) -> dict[str, Any]:
    """The API Gateway REST v1 proxy event for one HTTP request."""
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in headers:
        single_headers[name] = value  # API Gateway keeps the last value in `headers`
        multi_headers.setdefault(name, []).append(value)
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in query:
        single_query[name] = value
        multi_query.setdefault(name, []).append(value)
    text, is_base64 = encode_body(body, single_headers.get("content-type"))
    now = time.time()
    host = single_headers.get("host", "127.0.0.1")
    return {
        "resource": target.route.path,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": host,
            "domainPrefix": host.split(".")[0],
            "extendedRequestId": request_id,
            "httpMethod": method,
            "identity": {
                "accessKey": None,
                "accountId": None,
                "caller": None,
                "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None,
                "cognitoIdentityId": None,
                "cognitoIdentityPoolId": None,
                "principalOrgId": None,
                "sourceIp": source_ip,
                "user": None,
                "userAgent": single_headers.get("user-agent"),
                "userArn": None,
            },
            "path": f"/{STAGE}{path}",
            "protocol": "HTTP/1.1",
            "requestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": "local",
            "resourcePath": target.route.path,
            "stage": STAGE,
        },
        "body": text,
        "isBase64Encoded": is_base64,
    }


def lambda_response(result: Mapping[str, Any]) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """A Lambda proxy response's status, raw headers and body. As API Gateway does,
    `multiValueHeaders` win over `headers` for the same name; the two are merged otherwise."""
    raw_headers: list[tuple[bytes, bytes]] = []
    multi = result.get("multiValueHeaders") or {}
    multi_names = {name.lower() for name in multi}
    single = {
        name: value
        for name, value in (result.get("headers") or {}).items()
        if name.lower() not in multi_names
    }
    for name, values in [*multi.items(), *single.items()]:
        for value in values if isinstance(values, list) else [values]:
            if name.lower() != "content-length":
                raw_headers.append((name.lower().encode("latin-1"), str(value).encode("latin-1")))
    body = result.get("body") or ""
    content = base64.b64decode(body) if result.get("isBase64Encoded") else body.encode()
    raw_headers.append((b"content-length", str(len(content)).encode()))
    return int(result.get("statusCode", 200)), raw_headers, content


async def _body(receive: Receive) -> bytes | None:
    """The whole request body, as `Request.body()` reads it; None when the client went away
    before sending all of it (the function never sees a body cut short)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


class FunctionRoutes:
    """ASGI middleware in front of the gateway's Starlette routes: a request for a function
    goes straight to `Gateway.serve`; the gateway's own paths (the docs, the OpenAPI
    document, the storage) go on to the routes."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self.app = app
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or _is_own(path):
            await self.app(scope, receive, send)
            return
        await self.gateway.serve(scope, receive, send)


class _Served:
    """The catch-all route's endpoint as plain ASGI (Starlette would wrap a method)."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.gateway.serve(scope, receive, send)


def _is_own(path: str) -> bool:
    # A newline (`%0A`) stops Starlette's `{path:path}`: such a path goes to the functions,
    # whose routes answer it (problem+json), never to Starlette's plain-text 404.
    return (path in _OWN_PATHS or path.startswith(_OWN_PREFIXES)) and "\n" not in path


def merged_openapi(functions: Sequence[LoadedFunction]) -> dict[str, Any]:
    """One OpenAPI document for every HTTP function's app: the API's contract
    (`scripts/openapi.py`, committed as docs/openapi.json)."""
    return openapi_document(function.app for function in functions if function.app is not None)


def load_functions(template: Template) -> list[LoadedFunction]:
    """Import every function of the template once."""
    loaded = []
    for spec in template.functions:
        module = load_module(spec)
        app = getattr(module, "app", None)
        loaded.append(
            LoadedFunction(
                spec=spec,
                handler=getattr(module, spec.handler_attribute),
                app=app if isinstance(app, FastAPI) else None,
            )
        )
    return loaded


class StreamingPassThrough(Response):
    """Serves a request with the function's own ASGI app, as a Tencent SCF web function does,
    so a streamed body (server-sent events) reaches the client as it is written. The Lambda
    proxy path buffers whole responses, as API Gateway does; this path is taken only for
    clients asking for `text/event-stream`."""

    def __init__(self, app: FastAPI) -> None:
        super().__init__()
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        own = {key: value for key, value in scope.items() if key not in _GATEWAY_SCOPE_KEYS}
        await self._app(own, receive, send)


_GATEWAY_SCOPE_KEYS = frozenset({"app", "router", "endpoint", "path_params", "route"})


class Gateway:
    """The gateway's state: loaded functions, routes, the worker pool, the schedules and the
    queue consumers."""

    def __init__(
        self,
        template: Template,
        *,
        workers: int = 4,
        schedules: bool = False,
        consumers: bool = False,
    ) -> None:
        self.functions = load_functions(template)
        self.targets = route_targets(self.functions)
        self.jobs: list[ScheduledJob] = scheduled_jobs(template.functions) if schedules else []
        self.consumers: list[QueueConsumer] = []
        if consumers:
            handlers = {function.spec.logical_id: function.handler for function in self.functions}
            self.consumers = queue_consumers(template, handlers, settings=get_settings())
        self._workers = workers
        self._executors: dict[str, ThreadPoolExecutor] | None = None
        self._routes = RouteTable(self.targets)

    async def invoke(self, spec: FunctionSpec, event: dict[str, Any]) -> Any:
        """Call a function's handler in a worker thread, with a fresh context."""
        function = next(item for item in self.functions if item.spec is spec)
        context = FakeLambdaContext.for_function(spec.logical_id, str(uuid.uuid4()))
        return await self._call(function, event, context)

    def deliver_object_created(self, event: dict[str, Any]) -> None:
        """Hand a (COS-shaped) object-created event to every function with an `S3` event, as
        the cloud's notification would. Called in the storage route's thread once the object is
        stored; a failing trigger is logged and does not fail the upload, as in the cloud."""
        for function in self.functions:
            if not function.spec.storage_triggers:
                continue
            context = FakeLambdaContext.for_function(function.spec.logical_id, str(uuid.uuid4()))
            try:
                function.handler(event, context)
            except Exception:  # noqa: BLE001 - the upload stands; the trigger's failure is logged
                traceback.print_exc(file=sys.stderr)

    async def _call(self, function: LoadedFunction, *arguments: Any) -> Any:
        if self._executors is None:
            raise RuntimeError("the gateway is not started (use it within its lifespan)")
        executor = self._executors[function.spec.logical_id]
        return await asyncio.get_running_loop().run_in_executor(
            executor, function.handler, *arguments
        )

    @asynccontextmanager
    async def lifespan(self, _app: Starlette) -> AsyncIterator[None]:
        # Threads start on a pool's first requests only: an idle function costs none.
        self._executors = {
            function.spec.logical_id: ThreadPoolExecutor(
                max_workers=self._workers,
                thread_name_prefix=function.spec.logical_id,
                initializer=new_event_loop,
            )
            for function in self.functions
        }
        schedules = asyncio.create_task(run_schedules(self.jobs, self.invoke))
        consumers = ConsumerThreads(self.consumers)
        consumers.start()
        try:
            yield
        finally:
            schedules.cancel()
            await asyncio.to_thread(consumers.stop)
            for executor in self._executors.values():
                executor.shutdown(wait=True, cancel_futures=True)
            self._executors = None

    def match(
        self, method: str, path: str, *, preflight_for: str | None = None
    ) -> tuple[RouteTarget, dict[str, str]] | AppError:
        """The route for `method` and `path` (`RouteTable.match`)."""
        return self._routes.match(method, path, preflight_for=preflight_for)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one HTTP request through the function whose route matches it: the ASGI
        scope read once, no Starlette request or response built on the way."""
        request_id = gateway_request_id()
        headers = [
            (name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]
        ]
        single = dict(headers)
        method: str = scope["method"]
        path: str = scope["path"]
        preflight = single.get("access-control-request-method", "").upper()
        matched = self.match(method, path, preflight_for=preflight)
        if isinstance(matched, AppError):
            await self._problem(matched, Request(scope), request_id)(scope, receive, send)
            return
        target, path_parameters = matched
        app = target.function.app
        if app is not None and "text/event-stream" in single.get("accept", ""):
            await StreamingPassThrough(app)(scope, receive, send)
            return
        body = await _body(receive)
        if body is None:  # nobody to answer, and half a body is no request
            return
        client = scope.get("client")
        event = rest_event(
            target=target,
            method=method,
            path=path,
            path_parameters=path_parameters,
            headers=headers,
            query=parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True),
            body=body,
            source_ip=client[0] if client else "127.0.0.1",
            request_id=request_id,
        )
        await self._respond(target, event, request_id, scope, receive, send)

    async def _respond(
        self,
        target: RouteTarget,
        event: dict[str, Any],
        request_id: str,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        context = FakeLambdaContext.for_function(target.function.spec.logical_id, request_id)
        try:
            result = await self._call(target.function, event, context)
            status, raw_headers, content = lambda_response(result)
        except Exception:  # noqa: BLE001 - a crashed function is a 500, as on API Gateway
            traceback.print_exc(file=sys.stderr)
            problem = self._problem(InternalError(), Request(scope), request_id)
            await problem(scope, receive, send)
            return
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": content})

    def _problem(self, error: AppError, request: Request, request_id: str) -> Response:
        return gateway_problem(error, request, request_id)

    async def openapi(self, _request: Request) -> JSONResponse:
        return JSONResponse(merged_openapi(self.functions))

    async def docs(self, _request: Request) -> Response:
        # Swagger UI from our own files (`/docs/assets/`), never a CDN: the page works offline.
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="Retouch API",
            swagger_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_PATH}/favicon-32x32.png",
        )


def create_gateway(
    template: Template,
    *,
    workers: int = 4,
    schedules: bool = False,
    consumers: bool = False,
    storage: LocalStorage | None = None,
) -> Starlette:
    """The gateway as an ASGI app; its lifespan owns the worker pool, the schedules and the
    queue consumers (`scripts.local.consumers`). It also serves the local object storage under
    `/_storage/` (`storage`, or the adapter the settings describe, whose object-created events
    go to the template's storage-triggered functions), as COS or S3 would."""
    gateway = Gateway(template, workers=workers, schedules=schedules, consumers=consumers)
    app = Starlette(
        routes=[
            StarletteRoute("/openapi.json", gateway.openapi, methods=["GET"]),
            StarletteRoute("/docs", gateway.docs, methods=["GET"]),
            Mount(DOCS_ASSETS_PATH, StaticFiles(directory=SWAGGER_UI_ASSETS, check_dir=False)),
            *storage_routes(storage, on_object_created=gateway.deliver_object_created),
            # The gateway's own paths asked with another method go to the functions too.
            StarletteRoute("/{path:path}", _Served(gateway), methods=HTTP_METHODS),
        ],
        lifespan=gateway.lifespan,
        middleware=[Middleware(FunctionRoutes, gateway=gateway)],
    )
    app.state.gateway = gateway
    return app
