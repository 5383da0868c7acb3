"""Loopback peers of the simulator tests: an image host and a callback receiver that record
what reaches them, a server that accepts connections and never answers, and a renderer."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from retouch.providers.port import JobStatus, Provider
from scripts.local.servers import serving_app
from tests.unit.image_support import png

RESULT = png(3, 2)


@dataclass
class Recorder:
    """What reached a loopback peer: paths, and (for callbacks) headers and bodies."""

    url: str = ""
    paths: list[str] = field(default_factory=list)
    calls: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    failures_left: int = 0


@contextmanager
def image_host(images: Mapping[str, bytes]) -> Iterator[Recorder]:
    """GET /images/{name} serves `images[name]`."""
    recorder = Recorder()

    async def serve(request: Request) -> Response:
        recorder.paths.append(request.url.path)
        name = request.path_params["name"]
        if name not in images:
            return Response(status_code=404)
        return Response(images[name], media_type="image/png")

    with serving_app(Starlette(routes=[Route("/images/{name}", serve)])) as url:
        recorder.url = url
        yield recorder


@contextmanager
def callback_receiver(*, failures: int = 0) -> Iterator[Recorder]:
    """POST /callbacks records each delivery; the first `failures` are answered 500."""
    recorder = Recorder(failures_left=failures)

    async def receive(request: Request) -> Response:
        recorder.calls.append((dict(request.headers), await request.body()))
        if recorder.failures_left > 0:
            recorder.failures_left -= 1
            return Response(status_code=500)
        return Response(status_code=204)

    app = Starlette(routes=[Route("/callbacks", receive, methods=["POST"])])
    with serving_app(app) as url:
        recorder.url = f"{url}/callbacks"
        yield recorder


@contextmanager
def silent_server() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@dataclass
class Renderer:
    """Returns RESULT; raises the algorithms' input error (a ValueError) for `invalid`."""

    seen: list[tuple[str, dict[str, bytes], dict[str, Any]]] = field(default_factory=list)

    def __call__(
        self, feature: str, images: Mapping[str, bytes], params: Mapping[str, Any]
    ) -> bytes:
        self.seen.append((feature, dict(images), dict(params)))
        if params.get("invalid"):
            raise ValueError("the mask is empty")
        return RESULT


def wait_for_end(provider: Provider, handle: str, timeout_s: float = 5.0) -> JobStatus:
    """Poll until the job is no longer pending."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = provider.poll(handle)
        if status.state != "pending":
            return status
        time.sleep(0.02)
    raise AssertionError(f"job {handle} still pending after {timeout_s}s")


def wait_until(check: Any, timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)
