"""Child process of the benchmarks (`scripts/bench/*.py`): invoke Lambda handlers (HTTP or
queue) in a fresh interpreter.

Run by file path, never imported by the benchmark itself:

    python tests/bench/invoke.py cold FUNCTION_FILE EVENT_FILE RESULT_FILE
    python tests/bench/invoke.py warm OURS_FILE BARE_FILE EVENT_FILE RESULT_FILE \
        WARMUP ROUNDS CALLS_PER_ROUND
    python tests/bench/invoke.py events FUNCTION_FILE RESULT_FILE WARMUP ROUNDS \
        CALLS_PER_ROUND NAME=EVENT_FILE NAME=EVENT_FILE ...
    python tests/bench/invoke.py apps RESULT_FILE WARMUP ROUNDS CALLS_PER_ROUND \
        NAME=FUNCTION_FILE=EVENT_FILE ...
    python tests/bench/invoke.py profile FUNCTION_FILE EVENT_FILE RESULT_FILE WARMUP CALLS
    python tests/bench/invoke.py memory FUNCTION_FILE EVENTS_FILE RESULT_FILE CALLS

`warm` times two apps on one event, `events` one app on several events (one side each),
`apps` several apps each on its own event (one side each), `profile` runs one app's calls
under cProfile and writes every function's calls and times per invocation, `memory` calls one
app CALLS times on its events (a JSON list, taken in turn) and records its resident memory.

Only the standard library is imported before the timed import of the function module, so
nothing of the function's own stack is loaded early and both apps start from the same state.
Clocks: `time.monotonic_ns()` (CLOCK_MONOTONIC, shared with the parent process) for cold
starts, `time.perf_counter_ns()` per call for warm invocations. Results go to RESULT_FILE as
JSON; stdout belongs to the functions (the parent points it at a file).
"""

from __future__ import annotations

import time

STARTED_NS = time.monotonic_ns()  # the child's first statement: its own clock starts here

import importlib.util  # noqa: E402 - deliberately after the start timestamp
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from types import ModuleType  # noqa: E402
from typing import Any  # noqa: E402

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# The baselines import their shared Redis client as `tests.bench.bare_redis`: the checkout's
# root on the path (this file runs by path, so only its own folder is there).
sys.path.insert(1, str(Path(__file__).resolve().parents[2]))


class LambdaContext:
    """The attributes of the AWS Lambda context object that Mangum and Powertools read."""

    function_name = "bench-health"
    function_version = "$LATEST"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-health"
    memory_limit_in_mb = 512
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    log_group_name = "/aws/lambda/bench-health"
    log_stream_name = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def load_module(name: str, path: str) -> ModuleType:
    """Import a function's entry file by path, as the Lambda runtime imports `app.py`."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _status(response: dict[str, Any]) -> int:
    """An HTTP response's status; for a queue handler's batch response (`batchItemFailures`)
    200 when every record succeeded, else 500."""
    if "statusCode" in response:
        return int(response["statusCode"])
    return 500 if response.get("batchItemFailures") else 200


def cold(function_file: str, event_file: str, result_file: str) -> None:
    """Import one function module and answer one event: the cold start."""
    event = json.loads(Path(event_file).read_text())
    context = LambdaContext()
    import_started_ns = time.monotonic_ns()
    handler: Handler = load_module("function_under_test", function_file).handler
    imported_ns = time.monotonic_ns()
    response = handler(event, context)
    answered_ns = time.monotonic_ns()
    result = {
        "started_ns": STARTED_NS,
        "import_started_ns": import_started_ns,
        "imported_ns": imported_ns,
        "answered_ns": answered_ns,
        "status": _status(response),
        "body": response.get("body", json.dumps(response)),
    }
    Path(result_file).write_text(json.dumps(result))


def _stdout_size() -> int:
    sys.stdout.flush()
    return os.fstat(sys.stdout.fileno()).st_size


def interleave(
    sides: dict[str, tuple[Handler, dict[str, Any]]], warmup: int, rounds: int, calls_per_round: int
) -> dict[str, Any]:
    """Each side's handler on its event: warm up, then interleaved timed rounds of each. A
    side fails a call that does not answer 2xx (the first such answer's body is kept). Each
    call's CPU time (the process's, every thread) is kept beside its wall time."""
    context = LambdaContext()
    for handler, event in sides.values():
        for _ in range(warmup):
            handler(event, context)
    samples: dict[str, list[int]] = {name: [] for name in sides}
    failures = dict.fromkeys(sides, 0)
    first_failure: dict[str, str] = {}
    output_bytes = dict.fromkeys(sides, 0)
    names = list(sides)
    clock, cpu_clock = time.perf_counter_ns, time.process_time_ns
    cpu: dict[str, list[int]] = {name: [] for name in sides}
    for round_number in range(rounds):
        # Alternate which side goes first so drift and ordering effects hit all alike.
        for name in names if round_number % 2 == 0 else names[::-1]:
            (handler, event), timings = sides[name], samples[name]
            size_before = _stdout_size()
            for _ in range(calls_per_round):
                cpu_started = cpu_clock()
                started = clock()
                response = handler(event, context)
                timings.append(clock() - started)
                cpu[name].append(cpu_clock() - cpu_started)
                if not 200 <= response["statusCode"] < 300:
                    failures[name] += 1
                    first_failure.setdefault(name, str(response.get("body"))[:1000])
            output_bytes[name] += _stdout_size() - size_before
    return {
        "samples_ns": samples,
        "cpu_ns": cpu,
        "failures": failures,
        "first_failure": first_failure,
        "stdout_bytes": output_bytes,
    }


def warm(
    ours_file: str,
    bare_file: str,
    event_file: str,
    result_file: str,
    warmup: int,
    rounds: int,
    calls_per_round: int,
) -> None:
    """Both handlers in this process, on the same event."""
    event = json.loads(Path(event_file).read_text())
    sides = {
        "ours": (load_module("ours_function", ours_file).handler, event),
        "bare": (load_module("bare_function", bare_file).handler, event),
    }
    result = interleave(sides, warmup, rounds, calls_per_round)
    Path(result_file).write_text(json.dumps(result))


def events(
    function_file: str,
    result_file: str,
    warmup: int,
    rounds: int,
    calls_per_round: int,
    named_events: list[str],
) -> None:
    """One handler in this process, on each NAME=EVENT_FILE as its own side."""
    handler: Handler = load_module("function_under_test", function_file).handler
    sides = {}
    for named in named_events:
        name, event_file = named.split("=", 1)
        sides[name] = (handler, json.loads(Path(event_file).read_text()))
    result = interleave(sides, warmup, rounds, calls_per_round)
    Path(result_file).write_text(json.dumps(result))


def apps(
    result_file: str, warmup: int, rounds: int, calls_per_round: int, specs: list[str]
) -> None:
    """Several handlers in this process, each NAME=FUNCTION_FILE=EVENT_FILE its own side (a
    function file named twice is loaded once)."""
    handlers: dict[str, Handler] = {}
    sides = {}
    for spec in specs:
        name, function_file, event_file = spec.split("=", 2)
        if function_file not in handlers:
            handlers[function_file] = load_module(f"app_{len(handlers)}", function_file).handler
        sides[name] = (handlers[function_file], json.loads(Path(event_file).read_text()))
    result = interleave(sides, warmup, rounds, calls_per_round)
    Path(result_file).write_text(json.dumps(result))


def profile(function_file: str, event_file: str, result_file: str, warmup: int, calls: int) -> None:
    """`calls` warm invocations under cProfile timing CPU (the process's): per function
    (`file:line(name)`), its calls, own and cumulative CPU time per invocation (µs), so a
    wait on a socket counts only the CPU it takes, however busy the machine; and the wall
    and CPU time per invocation without the profiler, measured just before."""
    import cProfile
    import pstats

    handler: Handler = load_module("function_under_test", function_file).handler
    event = json.loads(Path(event_file).read_text())
    context = LambdaContext()
    for _ in range(warmup):
        handler(event, context)
    started, cpu_started = time.perf_counter_ns(), time.process_time_ns()
    for _ in range(calls):
        handler(event, context)
    plain_us = (time.perf_counter_ns() - started) / 1000 / calls
    cpu_us = (time.process_time_ns() - cpu_started) / 1000 / calls
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(calls):
        handler(event, context)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    functions = {
        f"{path}:{line}({name})": [calls_made / calls, own * 1e6 / calls, total * 1e6 / calls]
        for (path, line, name), (_, calls_made, own, total, _) in stats.items()
    }
    result = {"plain_us": plain_us, "cpu_us": cpu_us, "functions": functions}
    Path(result_file).write_text(json.dumps(result))


def _resident_kib(field: str = "VmRSS") -> int:
    """This process's resident set now (`VmRSS`) or its peak (`VmHWM`), in KiB, from
    /proc/self/status. (`ru_maxrss` would not do: Linux keeps it across the `execve` of a
    forked child, so a child would report its parent's peak.)"""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def memory(function_file: str, events_file: str, result_file: str, calls: int) -> None:
    """One handler on its events in turn, `calls` times: the resident memory after the first
    call, the 100th and the last, the peak, the statuses answered and the last answer."""
    handler: Handler = load_module("function_under_test", function_file).handler
    events = json.loads(Path(events_file).read_text())
    context = LambdaContext()
    checkpoints = {1, min(100, calls), calls}
    resident: dict[int, int] = {}
    statuses: dict[int, int] = {}
    response: dict[str, Any] = {}
    started = time.perf_counter()
    for call in range(1, calls + 1):
        response = handler(events[(call - 1) % len(events)], context)
        status = _status(response)
        statuses[status] = statuses.get(status, 0) + 1
        if call in checkpoints:
            resident[call] = _resident_kib()
    result = {
        "resident_kib": resident,
        "peak_kib": _resident_kib("VmHWM"),
        "statuses": statuses,
        "seconds": time.perf_counter() - started,
        "last": json.dumps(response, default=str)[:300],
    }
    Path(result_file).write_text(json.dumps(result))


def main(argv: list[str]) -> None:
    mode, *args = argv
    if mode == "cold":
        cold(*args)
    elif mode == "warm":
        ours_file, bare_file, event_file, result_file, warmup, rounds, per_round = args
        warm(
            ours_file, bare_file, event_file, result_file, int(warmup), int(rounds), int(per_round)
        )
    elif mode == "events":
        function_file, result_file, warmup, rounds, per_round, *named_events = args
        events(function_file, result_file, int(warmup), int(rounds), int(per_round), named_events)
    elif mode == "apps":
        result_file, warmup, rounds, per_round, *specs = args
        apps(result_file, int(warmup), int(rounds), int(per_round), specs)
    elif mode == "profile":
        function_file, event_file, result_file, warmup, calls = args
        profile(function_file, event_file, result_file, int(warmup), int(calls))
    elif mode == "memory":
        function_file, events_file, result_file, calls = args
        memory(function_file, events_file, result_file, int(calls))
    else:
        raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
