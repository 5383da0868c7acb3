"""Profile: where the local runtime's CPU goes under the load mix, per part of a request.

    .venv/bin/python -m scripts.bench.load_profile [--users 1000] [--seconds 20] \
        [--think-ms 0] [--rate 200] [--py-spy PATH] [--keep DIR] [--all-active]
    .venv/bin/python -m scripts.bench.load_profile --classify DIR

Starts the local stack with two worker processes as `scripts.bench.load` does (its users,
tasks, credits and uploads; rate limits raised), warms it for 3 s, then drives it with wrk
(`scripts/bench/load.lua`: 1,000 connections, the load mix) for `--seconds` while py-spy
samples every worker process (`py-spy record --gil --nonblocking`: only the thread holding the
GIL, so what is counted is Python running, not a thread waiting for a socket, a lock or the
GIL). `--all-active` samples every thread not asleep instead: on a machine loaded beyond its
cores that also counts threads that are runnable but waiting for a CPU, which inflates the
parts right after a round trip. py-spy is not a dependency of the project: install it where
you like (`pip install py-spy`) and name it with `--py-spy` if it is not on PATH.

Each sample is given to the innermost part of the request it was in (`PARTS`, matched from
the leaf towards the root): the gateway's event loop (uvicorn, the gateway's own app, the
HTTP → event translation and back), the handler thread's Mangum and middleware, the access
line and metrics, the limiter's call, the caller, FastAPI's own work and the route. Prints a
Markdown table of samples, shares and, from the CPU the workers used (/proc) over the
requests answered, µs of CPU per request. A measurement, not a test; results in
docs/performance.md ("Where the CPU goes under the load mix").
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import httpx

from scripts.bench import load

#: (a frame's "function (file" prefix, the part it stands for); the innermost match wins.
PARTS: Sequence[tuple[str, str]] = (
    ("_record (retouch/http/middleware.py", "access log line + metrics"),
    ("enforce_client_limit (", "per-IP limit + caller prefetch (one EVALSHA)"),
    ("limit_route (", "per-user limit (EVALSHA, creates)"),
    ("current_user_with.<locals>.caller_with_row (", "caller (+ the task it reads with it)"),
    ("current_user (", "caller (+ the task it reads with it)"),
    ("run_endpoint_function (", "the route (view, its statements, the engine's publish)"),
    ("serialize_response (", "FastAPI: response model"),
    ("solve_dependencies (", "FastAPI: dependencies, routing, request handling"),
    ("get_request_handler.<locals>.app (", "FastAPI: dependencies, routing, request handling"),
    ("APIRouter.app (fastapi/routing.py", "FastAPI: dependencies, routing, request handling"),
    ("RequestContextMiddleware.__call__ (", "function middleware (ids, headers, CORS)"),
    ("SettingsCorsMiddleware.__call__ (", "function middleware (ids, headers, CORS)"),
    ("FastAPI.__call__ (", "function middleware (ids, headers, CORS)"),
    ("Mangum.__call__ (", "Mangum (event → scope, response → dict)"),
)
HANDLER_THREAD = ("_worker (concurrent/futures/thread.py", "handler thread: loop, Powertools, pool")
#: Outside the handler threads (the event loop's thread), the first of these found anywhere in
#: the stack, in this order; else the event loop itself.
GATEWAY_PARTS: Sequence[tuple[str, str]] = (
    ("scripts/local/gateway.py", "gateway: HTTP → event, match, response → HTTP"),
    ("starlette/", "gateway: its Starlette app, pid header"),
    ("scripts/local/processes.py", "gateway: its Starlette app, pid header"),
    ("uvicorn/", "uvicorn: HTTP parsing (h11), protocol"),
    ("h11/", "uvicorn: HTTP parsing (h11), protocol"),
)
EVENT_LOOP = "the worker's event loop: sockets, scheduling"
_FRAME = re.compile(r"[^;]+? \([^)]*\)")


def part_of(frames: Sequence[str]) -> str:
    """The part of a request one sampled stack (root first) was in."""
    for frame in reversed(frames):
        found = next((name for prefix, name in PARTS if prefix in frame), None)
        if found:
            return found
    if any(HANDLER_THREAD[0] in frame for frame in frames):
        return HANDLER_THREAD[1]
    for prefix, name in GATEWAY_PARTS:
        if any(prefix in frame for frame in frames):
            return name
    return EVENT_LOOP


def classify(lines: Iterable[str]) -> collections.Counter[str]:
    """Samples per part, from py-spy's raw output (`frame;frame;... count` per line)."""
    parts: collections.Counter[str] = collections.Counter()
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            parts[part_of(_FRAME.findall(stack))] += int(count)
    return parts


def http_workers(url: str, expected: int = 2) -> list[int]:
    """The stack's HTTP worker processes, by the `x-local-worker-pid` each answers with (the
    consumers' process serves no request)."""
    found: set[int] = set()
    with httpx.Client(base_url=url, timeout=5) as client:
        for _ in range(200):
            found.add(int(client.get("/health").headers["x-local-worker-pid"]))
            if len(found) == expected:
                break
    return sorted(found)


def profile(args: argparse.Namespace, work: Path, keep: Path) -> tuple[str, float]:
    """Run the load with py-spy on each worker; the report and the requests/s."""
    stack, stack_env = load.start_stack(work, 2)
    try:
        data = work / "users.txt"
        load.prepare_users(work, stack_env, args.users, data)
        load.run_wrk(stack, data, think_ms=0, seconds=load.WARMUP_S, connections=1000)
        pids = http_workers(stack.url)
        spies = [_spy(args, pid, keep / f"{pid}.txt") for pid in pids]
        before, started = load.cpu_ticks(stack.process.pid, stack.process.pid), time.monotonic()
        figures = load.run_wrk(
            stack, data, think_ms=args.think_ms, seconds=args.seconds, connections=1000
        )
        elapsed = time.monotonic() - started
        after = load.cpu_ticks(stack.process.pid, stack.process.pid)
        for spy in spies:
            spy.wait()
    finally:
        stack.process.send_signal(signal.SIGINT)
        stack.process.wait(60)
    rate = figures["requests"] / (figures["duration_us"] / 1e6)
    app_cores = (after["app"] - before["app"]) / load.CLOCK_TICKS / elapsed
    samples = classify(
        line for pid in pids for line in (keep / f"{pid}.txt").read_text().splitlines()
    )
    return _report(samples, rate=rate, app_cores=app_cores, figures=figures), rate


def _spy(args: argparse.Namespace, pid: int, out: Path) -> subprocess.Popen[bytes]:
    command = [args.py_spy, "record", "-p", str(pid), "-r", str(args.rate), "-d"]
    command += [str(args.seconds), "--nonblocking", "-f", "raw", "-o", str(out)]
    if not args.all_active:
        command.append("--gil")
    return subprocess.Popen(  # noqa: S603 - py-spy with our arguments
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def _report(
    samples: collections.Counter[str], *, rate: float, app_cores: float, figures: dict[str, int]
) -> str:
    total = sum(samples.values()) or 1
    # Every app process's CPU (the consumers' included) over the requests answered.
    per_request = app_cores / rate * 1e6 if rate else 0.0
    lines = [
        f"{rate:,.0f} requests/s, {figures['timeout']} timeouts; app processes "
        f"{app_cores:.2f} cores: {per_request:,.0f} µs of CPU per request answered",
        "",
        "| part | samples | share |",
        "| --- | ---: | ---: |",
    ]
    for part, count in samples.most_common():
        lines.append(f"| {part} | {count:,} | {count / total:.1%} |")
    lines.append(f"| all (HTTP workers) | {total:,} | 100% |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--think-ms", type=int, default=0, help="0: back to back")
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--py-spy", default=shutil.which("py-spy") or "py-spy")
    parser.add_argument("--keep", type=Path, help="keep py-spy's raw samples here")
    parser.add_argument("--all-active", action="store_true", help="not only the GIL's holder")
    parser.add_argument("--classify", type=Path, help="only classify the samples kept here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.classify is not None:  # samples kept by an earlier run, by the parts above
        samples = classify(line for f in args.classify.glob("*.txt") for line in f.open())
        total = sum(samples.values()) or 1
        for part, count in samples.most_common():
            print(f"| {part} | {count:,} | {count / total:.1%} |")
        return 0
    if shutil.which(args.py_spy) is None or shutil.which("wrk") is None:
        print("load_profile: needs py-spy (--py-spy) and wrk", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="retouch-load-profile-") as folder:
        keep = args.keep or Path(folder) / "samples"
        keep.mkdir(parents=True, exist_ok=True)
        text, _ = profile(args, Path(folder), keep)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
