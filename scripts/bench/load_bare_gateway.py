"""The load benchmark's second baseline: the bare app of `scripts/bench/load_bare.py` deployed
as a function and served the way the local runtime serves ours — behind the same gateway
(`scripts.local.gateway`: the REST v1 event built from the request, a handler thread per
function, the Lambda proxy response), through Mangum, by the same number of uvicorn worker
processes, each answering with its PID header as ours does.

So `scripts/bench/load.py` can hold our functions against a bare function under one runtime
(what our code costs), beside the issue's comparison with the bare app as a plain ASGI app
(what our code and the runtime around it cost). Its routes are the load mix's paths.

    uvicorn --factory scripts.bench.load_bare_gateway:worker_app --workers N
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.types import ASGIApp

from scripts.local.gateway import create_gateway
from scripts.local.processes import THREADS_VARIABLE, WorkerPidHeader
from scripts.local.sam import FunctionSpec, Route, Template

BENCH = Path(__file__).resolve().parent
#: The load mix's requests (scripts/bench/load.lua), as the template declares ours.
ROUTES = (
    ("GET", "/v1/tasks/{task_id}"),
    ("GET", "/v1/tasks/{task_id}/events"),
    ("GET", "/v1/tasks"),
    ("POST", "/v1/tasks"),
    ("GET", "/v1/features"),
)


def bare_template() -> Template:
    """A template of one function: the bare app's Mangum handler on the mix's routes."""
    routes = tuple(
        Route(method=method, path=path, event_type="Api", event_name=f"Bare{number}")
        for number, (method, path) in enumerate(ROUTES)
    )
    function = FunctionSpec(
        logical_id="BareFunction", code_uri=BENCH, handler="load_bare.handler", routes=routes
    )
    return Template(path=BENCH / "load_bare_gateway.py", functions=(function,))


def worker_app() -> ASGIApp:
    """One worker process's app (uvicorn's factory), as `scripts.local.processes.worker_app`."""
    threads = int(os.environ.get(THREADS_VARIABLE, "4"))
    return WorkerPidHeader(create_gateway(bare_template(), workers=threads))
