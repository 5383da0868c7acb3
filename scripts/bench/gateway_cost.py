"""Benchmark: what the local gateway adds to a request's CPU, in one process.

    .venv/bin/python -m scripts.bench.gateway_cost [--rounds 10] [--per-round 300] \
        [--before OTHER_CHECKOUT/scripts/local/gateway.py]

Starts a private MariaDB and Redis, registers one user with tasks (as `scripts.bench.hotpath`
does), builds the local gateway over template.yaml and runs, interleaved in rounds of
`--per-round` requests, the same warm `GET /v1/tasks/{id}`:

- **through the gateway**: an HTTP request handed to the gateway's ASGI app (httpx's ASGI
  transport, no sockets): route match, the REST v1 event, the hop to the function's handler
  thread, Mangum and the function, the response back;
- **the handler alone**: the same function's handler called with the same event on a thread
  of its own, one round at a time, as the in-process benchmarks call it.

Reports the process's CPU per request (every thread, `time.process_time`) of each side, the
median of the rounds, and the difference: the gateway's own CPU per request (and httpx's
client side, the same on any tree). With `--before`, another checkout's gateway.py serves
the same requests beside this one's, in the same rounds. A measurement, not a test; results
in docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AsyncExitStack
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from scripts.bench.health import child_env
from scripts.local.servers import temporary_servers


def gateways(before: Path | None) -> dict[str, Any]:
    """This checkout's gateway app, and the one of another checkout's gateway.py (`before`:
    loaded under a name of its own; everything it imports is this checkout's)."""
    from scripts.local import gateway
    from scripts.local.sam import load_template

    modules: dict[str, ModuleType] = {"through the gateway": gateway}
    if before is not None:
        spec = importlib.util.spec_from_file_location("gateway_before", before)
        if spec is None or spec.loader is None:
            raise ImportError(before)
        module = importlib.util.module_from_spec(spec)
        sys.modules["gateway_before"] = module
        spec.loader.exec_module(module)
        modules = {"through the gateway (before)": module, "through the gateway": gateway}
    template = load_template()
    return {side: module.create_gateway(template, workers=4) for side, module in modules.items()}


async def measure(
    files: dict[str, Path], rounds: int, per_round: int, before: Path | None
) -> dict[str, list[float]]:
    from scripts.local.lambda_runtime import FakeLambdaContext, new_event_loop

    event: dict[str, Any] = json.loads(files["read"].read_text())
    apps = gateways(before)
    gateway = next(iter(apps.values())).state.gateway
    tasks = next(t.function for t in gateway.targets if t.route.path == "/v1/tasks/{task_id}")
    headers = {"authorization": event["headers"]["Authorization"]}
    cpu: dict[str, list[float]] = {side: [] for side in apps}
    cpu["the handler alone"] = []
    async with AsyncExitStack() as stack:
        clients = {}
        for side, app in apps.items():
            await stack.enter_async_context(app.state.gateway.lifespan(app))
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
            clients[side] = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://local")
            )

        async def through(client: httpx.AsyncClient) -> None:
            response = await client.get(event["path"], headers=headers)
            if response.status_code != 200:
                raise RuntimeError(response.text)

        def alone(calls: int) -> None:
            for _ in range(calls):
                context = FakeLambdaContext.for_function(tasks.spec.logical_id, "bench")
                if tasks.handler(event, context)["statusCode"] != 200:
                    raise RuntimeError("the handler refused the event")

        # The handler alone runs on a thread with a loop of its own (Mangum's), a round per hop.
        thread = ThreadPoolExecutor(max_workers=1, initializer=new_event_loop)
        for client in clients.values():  # warm: every handler thread connects
            for _ in range(per_round):
                await through(client)
        thread.submit(alone, per_round).result()
        for _ in range(rounds):
            for side, client in clients.items():
                started = time.process_time()
                for _ in range(per_round):
                    await through(client)
                cpu[side].append((time.process_time() - started) / per_round)
            started = time.process_time()
            thread.submit(alone, per_round).result()
            cpu["the handler alone"].append((time.process_time() - started) / per_round)
    return cpu


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=300)
    parser.add_argument("--before", type=Path, help="another checkout's scripts/local/gateway.py")
    args = parser.parse_args(argv)
    with temporary_servers("retouch-bench-gateway-") as (mariadb, redis, work):
        os.environ.update(child_env({**mariadb.env(), **redis.env()}))
        from scripts.bench.hotpath import prepare

        _, files = prepare(dict(os.environ), work, credits=100)
        cpu = asyncio.run(measure(files, args.rounds, args.per_round, args.before))
    medians = {side: statistics.median(values) * 1e6 for side, values in cpu.items()}
    print(f"load average {os.getloadavg()[0]:.2f}; {args.rounds} rounds of {args.per_round}")
    print("")
    print("| GET /v1/tasks/{id} | CPU per request (median of rounds) |")
    print("| --- | ---: |")
    for side, value in medians.items():
        print(f"| {side} | {value:,.0f} µs |")
    alone = medians["the handler alone"]
    for side in [side for side in medians if side.startswith("through")]:
        print(f"| {side}, less the handler alone | {medians[side] - alone:,.0f} µs |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
