"""The local gateway's storage routes: what COS or S3 answer in the cloud.

    PUT /_storage/<key>?X-Retouch-Expires=…&X-Retouch-Max-Bytes=…&X-Retouch-Signature=…
    PUT /_storage/<key>   with X-Retouch-Security-Token (a temporary credential)
    GET /_storage/<key>?X-Retouch-Expires=…&X-Retouch-Signature=…   (HEAD too)

Every request is verified by the local adapter before any file is touched; a stored upload
hands the adapter's `on_object_created` hook the COS-shaped event, as the cloud would the
upload trigger. Refusals are problem+json, like every other gateway answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from retouch.core.errors import AppError, MethodNotAllowed
from retouch.core.settings import get_settings
from retouch.http.cors import SettingsCorsMiddleware
from retouch.storage import LocalStorage, UploadTooLarge, local_storage
from retouch.storage.local import ObjectCreatedHook
from retouch.storage.signing import SECURITY_TOKEN
from scripts.local.gateway_problems import gateway_problem, gateway_request_id

PATH = "/_storage/{key:path}"


def storage_routes(
    storage: LocalStorage | None = None, *, on_object_created: ObjectCreatedHook | None = None
) -> list[Route]:
    """The storage routes over `storage`, or over the adapter the settings describe (built on
    the first request, so the gateway starts without reading storage settings) with
    `on_object_created` as its hook."""
    built: list[LocalStorage] = [] if storage is None else [storage]

    def current() -> LocalStorage:
        if not built:
            built.append(local_storage(get_settings(), on_object_created=on_object_created))
        return built[0]

    handlers = {"PUT": _guarded(current, _upload), "GET": _guarded(current, _download)}
    handlers["HEAD"] = handlers["GET"]
    # A browser uploads straight to a presigned URL from the web app's origin, so the routes
    # answer CORS as the bucket's CORS rules do in the cloud (`RETOUCH_CORS_ORIGINS`).
    endpoint = SettingsCorsMiddleware(
        _Dispatch(handlers),
        methods=("GET", "HEAD", "PUT"),
        headers=("Content-Type", SECURITY_TOKEN, "X-Request-ID"),
        exposed=("ETag", "X-Request-ID"),
    )
    return [Route(PATH, endpoint, methods=["GET", "HEAD", "PUT", "OPTIONS"])]


class _Dispatch:
    """The storage endpoint by method; any other method (a preflight without CORS) is 405."""

    def __init__(self, handlers: dict[str, Callable[[Request], Awaitable[Response]]]) -> None:
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        handler = self.handlers.get(request.method)
        if handler is None:
            allowed = ", ".join(sorted(self.handlers))
            error = MethodNotAllowed(headers={"Allow": allowed})
            response = gateway_problem(error, request, gateway_request_id())
        else:
            response = await handler(request)
        await response(scope, receive, send)


def _guarded(
    current: Callable[[], LocalStorage], handler: Callable[[LocalStorage, Request, bytes], Response]
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        request_id = gateway_request_id()
        try:
            body = await bounded_body(request) if request.method == "PUT" else b""
            # File I/O and fsync off the event loop.
            response = await run_in_threadpool(handler, current(), request, body)
        except AppError as error:
            return gateway_problem(error, request, request_id)
        response.headers["X-Request-ID"] = request_id
        return response

    return endpoint


async def bounded_body(request: Request) -> bytes:
    """The PUT body. A presigned PUT is refused (413) once it passes the largest upload any
    ticket allows, so an oversized body is never held whole (the cloud refuses it against the
    signed size; the ticket's own bound is checked after, by the adapter). A PUT with a
    temporary credential is read whole, as STS binds no size in the cloud either: the upload
    trigger refuses it (it reads no more than the declared size)."""
    if request.headers.get(SECURITY_TOKEN):
        return await request.body()
    limit = get_settings().upload_max_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadTooLarge("An upload is at most {max_bytes} bytes", max_bytes=limit)
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise UploadTooLarge("An upload is at most {max_bytes} bytes", max_bytes=limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _upload(storage: LocalStorage, request: Request, body: bytes) -> Response:
    storage.accept_upload(
        request.path_params["key"],
        method=request.method,
        query=dict(request.query_params),
        headers=dict(request.headers),
        body=body,
    )
    info = storage.head(request.path_params["key"])
    return Response(status_code=200, headers={"ETag": f'"{info.etag}"'} if info else {})


def _download(storage: LocalStorage, request: Request, _body: bytes) -> Response:
    data, info = storage.serve_download(
        request.path_params["key"], query=dict(request.query_params)
    )
    return Response(
        content=data,
        media_type=info.content_type,
        headers={"ETag": f'"{info.etag}"', "Cache-Control": "private, no-store"},
    )
