"""The local API gateway: every HTTP function of template.yaml behind one port.

Like API Gateway's REST API with Lambda proxy integration: a request is matched to the route of
a function (static segments beat `{param}`, which beats `{proxy+}`), turned into a REST v1
proxy event, handed to that function's real handler, and the Lambda response is turned back
into HTTP. `/docs` and `/openapi.json` document every function at once.

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
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.routing import Route as StarletteRoute
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

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


def http_response(result: Mapping[str, Any]) -> Response:
    """A Lambda proxy response as HTTP. As API Gateway does, `multiValueHeaders` win over
    `headers` for the same name; the two are merged otherwise."""
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
    response = Response(content=content, status_code=int(result.get("statusCode", 200)))
    response.raw_headers = [*raw_headers, (b"content-length", str(len(content)).encode())]
    return response


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
        """The route for `method` and `path`. A CORS preflight (`OPTIONS` naming the method it
        asks about in `preflight_for`) goes to the function that serves that method, whose
        CORS middleware answers it, as API Gateway's CORS configuration does in the cloud."""
        wanted = preflight_for if method == "OPTIONS" and preflight_for else method
        allowed: list[str] = []
        for target in self.targets:
            found = target.pattern.fullmatch(path)
            if found is None:
                continue
            if target.matches_method(wanted):
                return target, found.groupdict()
            allowed.append(target.route.method)
        if allowed:
            return MethodNotAllowed(headers={"Allow": ", ".join(sorted(set(allowed)))})
        return NotFound(f"No route for {method} {path}")

    async def forward(self, request: Request) -> Response:
        """Serve one request through the function whose route matches it."""
        request_id = gateway_request_id()
        # The decoded path, as API Gateway matches it: `request.url.path` re-parses the URL, so
        # an encoded `#` or `?` in a path parameter would cut the path short.
        path: str = request.scope["path"]
        matched = self.match(
            request.method,
            path,
            preflight_for=request.headers.get("access-control-request-method", "").upper(),
        )
        if isinstance(matched, AppError):
            return self._problem(matched, request, request_id)
        target, path_parameters = matched
        app = target.function.app
        if app is not None and "text/event-stream" in request.headers.get("accept", ""):
            return StreamingPassThrough(app)
        event = rest_event(
            target=target,
            method=request.method,
            path=path,
            path_parameters=path_parameters,
            headers=[
                (name.decode("latin-1"), value.decode("latin-1"))
                for name, value in request.headers.raw
            ],
            query=parse_qsl(request.url.query, keep_blank_values=True),
            body=await request.body(),
            source_ip=request.client.host if request.client else "127.0.0.1",
            request_id=request_id,
        )
        context = FakeLambdaContext.for_function(target.function.spec.logical_id, request_id)
        try:
            result = await self._call(target.function, event, context)
            return http_response(result)
        except Exception:  # noqa: BLE001 - a crashed function is a 500, as on API Gateway
            traceback.print_exc(file=sys.stderr)
            return self._problem(InternalError(), request, request_id)

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


def _forward_unrouted(gateway: Gateway) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def forward(request: Request, _exc: Exception) -> Response:
        return await gateway.forward(request)

    return forward


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
            StarletteRoute("/{path:path}", gateway.forward, methods=HTTP_METHODS),
        ],
        lifespan=gateway.lifespan,
        # `{path:path}` is `.*`, which stops at a newline: a path with an encoded one (`%0A`)
        # still goes to the routes of the template, not to Starlette's plain-text 404.
        exception_handlers={404: _forward_unrouted(gateway)},
    )
    app.state.gateway = gateway
    return app
