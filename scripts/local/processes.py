"""The local stack with several processes, as the clouds run several function instances.

`scripts/run --processes N` (default: the machine's CPU count) serves the gateway with N
uvicorn worker processes on one port; each imports every function and holds its own database
and Redis connections, as a function instance does. The queue consumers and the schedules run
in one more process of their own (`run_background`), so an engine step never shares a GIL with
a request. `--processes 1` keeps everything in one process, for a debugger.

`--consumer-processes N` (default 1) runs the queue consumers in N such processes, as the
clouds scale a step function out to several instances: every process consumes every queue,
Redis Streams' consumer group gives each message to one of them, and the step's row lock
makes a message delivered to two do its work once. The schedules run in the first only.

Each worker process answers with an `x-local-worker-pid` header (`WorkerPidHeader`): the
local gateway only, so a test or a benchmark can see which instance served a request; no
function sets it, and nothing of this module is deployed.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sys
from multiprocessing.context import SpawnProcess
from multiprocessing.synchronize import Event
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from scripts.local.gateway import create_gateway
from scripts.local.sam import load_template

#: Handler threads per worker process, handed to the spawned workers by the parent.
THREADS_VARIABLE = "STACK_WORKER_THREADS"
PID_HEADER = b"x-local-worker-pid"
STOP_TIMEOUT_S = 60.0


class WorkerPidHeader:
    """ASGI middleware: every HTTP response of this process carries its PID."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._pid = str(os.getpid()).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_pid(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (PID_HEADER, self._pid)]
            await send(message)

        await self.app(scope, receive, send_with_pid)


def worker_app() -> ASGIApp:
    """The app of one worker process (uvicorn's factory): the gateway's routes, no schedules
    and no consumers (those run in the background process)."""
    threads = int(os.environ.get(THREADS_VARIABLE, "4"))
    return WorkerPidHeader(create_gateway(load_template(), workers=threads))


#: What a background process prints once its consumers run (a test waits for it).
RUNNING_LINE = "background process {pid}: consumers running"


async def _run_until(app: Starlette, stop: Event) -> None:
    async with app.state.gateway.lifespan(app):
        print(RUNNING_LINE.format(pid=os.getpid()), file=sys.stderr, flush=True)
        await asyncio.to_thread(stop.wait)


def run_background(stop: Event, threads: int, schedules: bool = True) -> None:
    """The consumers (and `schedules`) of the template, in a process of their own, until
    `stop`.

    Ctrl-C reaches the whole process group: this process leaves it to the parent, which sets
    `stop` once the HTTP workers are down, so a batch in flight finishes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda _number, _frame: stop.set())
    app = create_gateway(load_template(), workers=threads, schedules=schedules, consumers=True)
    asyncio.run(_run_until(app, stop))


def start_background(
    threads: int, *, schedules: bool = True, stop: Event | None = None
) -> tuple[SpawnProcess, Event]:
    """Start `run_background` in a spawned process (no connection of the parent crosses);
    `stop` shared with other background processes, or a new one."""
    context = multiprocessing.get_context("spawn")
    stop = stop or context.Event()
    process = context.Process(
        target=run_background,
        args=(stop, threads, schedules),
        name="stack-background" if schedules else "stack-consumers",
        daemon=True,
    )
    process.start()
    return process, stop


def start_consumer_processes(threads: int, count: int) -> tuple[list[SpawnProcess], Event]:
    """`count` background processes sharing one stop: the first runs the schedules too."""
    first, stop = start_background(threads)
    others = [start_background(threads, schedules=False, stop=stop)[0] for _ in range(count - 1)]
    return [first, *others], stop


def stop_background(processes: list[SpawnProcess], stop: Event) -> None:
    """Ask the background processes to finish, and end those that do not in time."""
    stop.set()
    for process in processes:
        process.join(STOP_TIMEOUT_S)
        if process.is_alive():
            process.terminate()
            process.join(5)


def serve_processes(
    *,
    host: str,
    port: int,
    processes: int,
    threads: int,
    consumer_processes: int = 1,
    **config: Any,
) -> None:
    """Serve with `processes` uvicorn workers and `consumer_processes` background processes;
    returns once Ctrl-C or SIGTERM stopped the workers (uvicorn's supervisor handles both),
    after the background processes finished."""
    os.environ[THREADS_VARIABLE] = str(threads)
    background, stop = start_consumer_processes(threads, consumer_processes)
    try:
        uvicorn.run(
            "scripts.local.processes:worker_app",
            factory=True,
            host=host,
            port=port,
            workers=processes,
            **config,
        )
    finally:
        stop_background(background, stop)
