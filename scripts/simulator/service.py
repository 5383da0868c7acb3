"""The simulator: a local stand-in for an asynchronous image vendor (never deployed).

    python -m scripts.simulator --port 8700 --latency-ms 200..2000 --error-rate 0.3 \
        --hang-rate 0.1 --burst-429 30:5 --concurrency 4 --callback-secret S --seed 7

Protocol (JSON; every call but a result download needs `Authorization: Bearer <key>`):

- `POST /jobs` `{feature, image_urls: {field: url}, params, client_token, callback_url?}` →
  202 `{"job_id"}`. The simulator downloads the images itself, only over http(s) from loopback
  hosts or hosts given with `--allow-host` (any other URL fails the job `INVALID_INPUT`
  before a single request). The same `client_token` again → the same job. 429
  `{"code": "CONCURRENCY_LIMIT"}` when `--concurrency` jobs are queued or running; 429
  `{"code": "RATE_LIMITED"}` with `Retry-After` inside a burst window; 400 `INVALID_REQUEST`
  for a malformed body; 401 `UNAUTHORIZED` without the key.
- `GET /jobs/{id}` → `{"job_id", "status": "queued|running|succeeded|failed|canceled",
  "result_urls"?, "error"?: {"code", "message"}}`. A job ends after its latency; a hanging job
  stays `running` until canceled (it holds its concurrency slot). Failed codes: `INTERNAL`
  (drawn by `--error-rate`, or a renderer crash) and `FETCH_FAILED` are retryable,
  `INVALID_INPUT` (a refused URL, or the renderer's input error) is not. A poll may itself be
  answered 503 `UNAVAILABLE` (`--poll-error-rate`); 404 `NOT_FOUND` for an unknown job.
- `GET /results/{job_id}/{n}` → the PNG; 410 `EXPIRED` once `--result-ttl-s` has passed since
  the job ended.
- `POST /jobs/{id}/cancel` → 200 with the job (a finished job is left as it is).
- Callback: when a job with a `callback_url` succeeds or fails, `POST {event_id, job_id,
  status}` to it with `X-Sim-Timestamp` (Unix seconds) and `X-Sim-Signature` =
  hex(HMAC-SHA256(secret, timestamp + "." + body)), retried with backoff on failure; every
  attempt carries the same event id.

A job's latency, hang and failure are drawn from a RNG seeded by `--seed` and its client
token, so a rerun behaves the same. Results come from a renderer `(feature, images, params)
-> PNG bytes`, by default `retouch.providers.local.algorithms.run`, imported at first use.
Tests build the app in-process with `create_simulator(config, renderer=...)` and serve it on a
free loopback port with `running_simulator`.
"""

from __future__ import annotations

import argparse
import hmac
import sys
import uuid
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# `python -m scripts.simulator` from the checkout: the layer is /opt/python on Lambda.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "layers" / "retouch"))

from scripts.local.servers import serving_app
from scripts.simulator.jobs import (
    DEFAULT_CALLBACK_SECRET,
    Job,
    JobBook,
    Plan,
    Renderer,
    SimulatorConfig,
)

__all__ = ["RunningSimulator", "SimulatorConfig", "create_simulator", "running_simulator"]


def local_algorithms(feature: str, images: Mapping[str, bytes], params: Mapping[str, Any]) -> bytes:
    """The default renderer: the `local` provider's OpenCV algorithms, imported on first use."""
    from retouch.providers.local.algorithms import run  # type: ignore[import-not-found,unused-ignore]

    result: bytes = run(feature, images, params)
    return result


def _problem(status: int, code: str, message: str, retry_after: int | None = None) -> JSONResponse:
    headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
    return JSONResponse({"code": code, "message": message}, status_code=status, headers=headers)


def create_simulator(config: SimulatorConfig, renderer: Renderer = local_algorithms) -> Starlette:
    """The simulator's ASGI app; its job book is `app.state.book`."""
    book = JobBook(config, renderer)

    def authorized(request: Request) -> bool:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            return False
        return config.api_key is None or hmac.compare_digest(key, config.api_key)

    def refusal(request: Request) -> JSONResponse | None:
        if not authorized(request):
            return _problem(401, "UNAUTHORIZED", "a bearer key is required")
        retry_after = book.burst_retry_after()
        if retry_after is not None:
            return _problem(429, "RATE_LIMITED", "rate limited", retry_after)
        return None

    async def submit(request: Request) -> Response:
        refused = refusal(request)
        if refused is not None:
            return refused
        try:
            body = await request.json()
        except ValueError:
            body = None
        job = _job_from(body, config)
        if job is None:
            return _problem(400, "INVALID_REQUEST", "malformed job")
        known = book.by_token.get(job.client_token)
        if known is not None:
            return JSONResponse({"job_id": known}, status_code=202)
        if book.active() >= config.concurrency:
            return _problem(429, "CONCURRENCY_LIMIT", "too many jobs running", 1)
        book.start(job)
        return JSONResponse({"job_id": job.job_id}, status_code=202)

    async def status(request: Request) -> Response:
        refused = refusal(request)
        if refused is not None:
            return refused
        job = book.jobs.get(request.path_params["job_id"])
        if job is None:
            return _problem(404, "NOT_FOUND", "no such job")
        if book.poll_fails(job):
            return _problem(503, "UNAVAILABLE", "simulated poll failure")
        return JSONResponse(job.view(str(request.base_url)))

    async def cancel(request: Request) -> Response:
        if not authorized(request):
            return _problem(401, "UNAUTHORIZED", "a bearer key is required")
        job = book.jobs.get(request.path_params["job_id"])
        if job is None:
            return _problem(404, "NOT_FOUND", "no such job")
        book.cancel(job)
        return JSONResponse(job.view(str(request.base_url)))

    async def result(request: Request) -> Response:
        job = book.jobs.get(request.path_params["job_id"])
        index = request.path_params["index"]
        if job is None or index >= len(job.results):
            return _problem(404, "NOT_FOUND", "no such result")
        if book.expired(job):
            return _problem(410, "EXPIRED", "the result URL has expired")
        return Response(job.results[index], media_type="image/png")

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await book.open()
        try:
            yield
        finally:
            await book.close()

    app = Starlette(
        routes=[
            Route("/jobs", submit, methods=["POST"]),
            Route("/jobs/{job_id}", status, methods=["GET"]),
            Route("/jobs/{job_id}/cancel", cancel, methods=["POST"]),
            Route("/results/{job_id}/{index:int}", result, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
    app.state.book = book
    return app


def _job_from(body: object, config: SimulatorConfig) -> Job | None:
    if not isinstance(body, dict):
        return None
    feature, urls, params = body.get("feature"), body.get("image_urls"), body.get("params", {})
    token, callback_url = body.get("client_token"), body.get("callback_url")
    if not (isinstance(feature, str) and isinstance(token, str) and token):
        return None
    if not (isinstance(urls, dict) and all(isinstance(url, str) for url in urls.values())):
        return None
    if not isinstance(params, dict) or not isinstance(callback_url, str | None):
        return None
    return Job(
        job_id=f"sim-{uuid.uuid4().hex}",
        client_token=token,
        feature=feature,
        image_urls={str(name): url for name, url in urls.items()},
        params=params,
        callback_url=callback_url,
        plan=Plan.draw(config, token),
    )


@dataclass(frozen=True, slots=True)
class RunningSimulator:
    """A simulator served on a loopback port: its base URL and its job book."""

    url: str
    book: JobBook


@contextmanager
def running_simulator(
    config: SimulatorConfig, renderer: Renderer = local_algorithms
) -> Iterator[RunningSimulator]:
    """Serve a simulator on a free 127.0.0.1 port in a thread; stopped on the way out."""
    app = create_simulator(config, renderer)
    with serving_app(app) as url:
        yield RunningSimulator(url=url, book=app.state.book)


def _range(text: str) -> tuple[float, float]:
    low, _, high = text.partition("..")
    bounds = (float(low), float(high or low))
    if not 0 <= bounds[0] <= bounds[1]:
        raise argparse.ArgumentTypeError(f"expected A..B with 0 <= A <= B, got {text!r}")
    return bounds


def _burst(text: str) -> tuple[float, float]:
    every, _, length = text.partition(":")
    return float(every), float(length)


def parse_arguments(
    argv: Sequence[str] | None = None,
) -> tuple[argparse.Namespace, SimulatorConfig]:
    parser = argparse.ArgumentParser(prog="python -m scripts.simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=_range, default=(0.0, 0.0), metavar="A..B")
    parser.add_argument("--error-rate", type=float, default=0.0)
    parser.add_argument("--hang-rate", type=float, default=0.0)
    parser.add_argument("--poll-error-rate", type=float, default=0.0)
    parser.add_argument(
        "--burst-429", type=_burst, default=(0.0, 0.0), metavar="EVERY:FOR",
        help="answer 429 RATE_LIMITED for FOR seconds at the start of every EVERY seconds",
    )  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--result-ttl-s", type=float, default=600.0)
    parser.add_argument("--callback-secret", default=DEFAULT_CALLBACK_SECRET)
    parser.add_argument("--api-key", default=None, help="the only bearer key accepted")
    parser.add_argument("--allow-host", action="append", default=[], help="besides loopback")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    config = SimulatorConfig(
        latency_ms=arguments.latency_ms,
        error_rate=arguments.error_rate,
        hang_rate=arguments.hang_rate,
        poll_error_rate=arguments.poll_error_rate,
        burst_every_s=arguments.burst_429[0],
        burst_for_s=arguments.burst_429[1],
        concurrency=arguments.concurrency,
        result_ttl_s=arguments.result_ttl_s,
        callback_secret=arguments.callback_secret,
        api_key=arguments.api_key,
        allow_hosts=frozenset(host.lower() for host in arguments.allow_host),
        seed=arguments.seed,
    )
    return arguments, config


def main(argv: Sequence[str] | None = None) -> int:
    import uvicorn

    arguments, config = parse_arguments(argv)
    print(f"simulator on http://{arguments.host}:{arguments.port} {config}", file=sys.stderr)
    uvicorn.run(create_simulator(config), host=arguments.host, port=arguments.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
