"""Benchmark: the health function against a bare FastAPI+Mangum app, measured in one run.

    .venv/bin/python -m scripts.bench.health [--cold-runs N] [--warm-calls N]

Starts a private Redis and MariaDB in a temporary folder, then measures

* cold start: N fresh interpreters per app, alternating ours and bare in one loop; each child
  (tests/bench/invoke.py) imports the function file by path and answers one API Gateway REST
  v1 `GET /health/redis` event (events/health_aws_rest.json, or a built one without it).
  Reported: import-to-first-response (child clock) and interpreter-start-to-first-response
  (parent clock; CLOCK_MONOTONIC is shared between processes);
* warm latency: one fresh interpreter holding both handlers; after a warm-up, interleaved
  rounds of in-process invocations of each, timed per call with `perf_counter_ns`.

The baseline is tests/bench/bare_app.py: one plain `def` route doing one Redis GET. Both
children run with the same environment and with stdout redirected to a file. It prints a table
and a verdict against the targets (cold ≤ 1.25× bare, warm p50 ≤ 1.5× bare) and always exits 0:
it is a measurement, not a test. Results are in docs/performance.md. `--sentry-dsn DSN` runs
it with error tracking on (docs/observability.md, "Error tracking").
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.local.servers import temporary_servers

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "retouch"
# the servers read the slow-log threshold from the settings; the timed apps run in children
sys.path.insert(0, str(LAYER))
OURS = ROOT / "functions" / "http" / "health" / "app.py"
BARE = ROOT / "tests" / "bench" / "bare_app.py"
CHILD = ROOT / "tests" / "bench" / "invoke.py"
SAMPLE_EVENT = ROOT / "events" / "health_aws_rest.json"

COLD_TARGET = 1.25
WARM_TARGET = 1.5
SIDES = ("ours", "bare")
PACKAGES = ("fastapi", "starlette", "pydantic", "mangum", "aws-lambda-powertools", "redis")

# Variables that would make the two sides differ or hide our logging/metrics.
_DROPPED_VARIABLES = (
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONPROFILEIMPORTTIME",
    "POWERTOOLS_METRICS_DISABLED",
    "POWERTOOLS_DEV",
    "POWERTOOLS_LOGGER_LOG_EVENT",
)


def health_redis_event() -> dict[str, Any]:
    """An API Gateway REST v1 (Lambda proxy) event for `GET /health/redis`."""
    headers = {
        "Accept": "application/json",
        "Accept-Encoding": "gzip, deflate, br",
        "Host": "abc123.execute-api.us-east-1.amazonaws.com",
        "User-Agent": "bench/1.0",
        "X-Amzn-Trace-Id": "Root=1-67891233-abcdef012345678912345678",
        "X-Forwarded-For": "203.0.113.10",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    return {
        "resource": "/health/redis",
        "path": "/health/redis",
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": {key: [value] for key, value in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "httpMethod": "GET",
            "identity": {"sourceIp": "203.0.113.10", "userAgent": "bench/1.0"},
            "path": "/prod/health/redis",
            "protocol": "HTTP/1.1",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef",
            "requestTime": "09/Apr/2015:12:34:56 +0000",
            "requestTimeEpoch": 1428582896000,
            "resourcePath": "/health/redis",
            "stage": "prod",
        },
        "body": None,
        "isBase64Encoded": False,
    }


def load_event() -> tuple[dict[str, Any], str]:
    """The repository's sample REST event when it is a `GET /health/redis`, else our own."""
    if SAMPLE_EVENT.exists():
        event: dict[str, Any] = json.loads(SAMPLE_EVENT.read_text())
        if (event.get("httpMethod"), event.get("path")) == ("GET", "/health/redis"):
            return event, str(SAMPLE_EVENT.relative_to(ROOT))
    return health_redis_event(), "built in scripts/bench/health.py"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass
class ColdSample:
    import_ms: float  # import of the function module
    invoke_ms: float  # first handler call
    process_ms: float  # parent: spawn of the interpreter to the first response

    @property
    def import_to_response_ms(self) -> float:
        return self.import_ms + self.invoke_ms


@dataclass
class Results:
    cold: dict[str, list[ColdSample]] = field(default_factory=lambda: {s: [] for s in SIDES})
    warm_ns: dict[str, list[int]] = field(default_factory=dict)
    stdout_bytes_per_call: dict[str, float] = field(default_factory=dict)
    event_source: str = ""


def child_env(servers_env: dict[str, str]) -> dict[str, str]:
    """The same environment for both sides: the servers, the layer on the path, INFO logs."""
    env = {k: v for k, v in os.environ.items() if k not in _DROPPED_VARIABLES}
    env.update(servers_env)
    env["PYTHONPATH"] = str(LAYER)  # what the Lambda layer's /opt/python is in production
    env["POWERTOOLS_LOG_LEVEL"] = "INFO"
    # Every call comes from the event's one sourceIp: the limiter runs (one EVALSHA per
    # request, as in production) but must never refuse.
    env["RETOUCH_RATE_LIMIT_PER_IP_PER_MIN"] = "1000000"
    # Functions that sign or verify tokens need a key; a fixed one is fine for a benchmark.
    env.setdefault("RETOUCH_JWT_KEYS", json.dumps({"bench": "b" * 43}))
    return env


def warm_argument_parser(doc: str | None) -> argparse.ArgumentParser:
    """The options every warm benchmark takes (calls, interleaved rounds, warm-up); `doc` is
    the benchmark's module docstring, whose first line describes it."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--warm-calls", type=int, default=3000, help="timed calls per app")
    parser.add_argument("--warm-rounds", type=int, default=10, help="interleaved rounds")
    parser.add_argument("--warmup", type=int, default=300, help="untimed calls per app first")
    return parser


LAYER_VENV = ROOT / ".local" / "bench-layer-venv"


def layer_python() -> str:
    """An interpreter with exactly the layer's pinned dependencies, as a function's runtime
    has them, built once under .local/ (rebuilt when requirements/layer.txt changes). The dev
    virtualenv also holds test tools that no function ships — `cryptography`, for one, which
    pymysql imports whenever it is installed (~30 ms) — so cold starts measured there count
    work the cloud never does."""
    lock = ROOT / "requirements" / "layer.txt"
    python = LAYER_VENV / "bin" / "python"
    stamp = LAYER_VENV / ".layer.sha256"
    want = hashlib.sha256(lock.read_bytes()).hexdigest()
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(LAYER_VENV)], check=True)  # noqa: S603
    if not stamp.exists() or stamp.read_text() != want:
        print("building the layer-only interpreter for cold starts …", file=sys.stderr)
        subprocess.run(  # noqa: S603 - our own interpreter and lock file
            [str(python), "-m", "pip", "install", "-q", "-r", str(lock)], check=True
        )
        stamp.write_text(want)
    return str(python)


def _run_child(args: list[str], env: dict[str, str], stdout: Path) -> int:
    """Run tests/bench/invoke.py (with `BENCH_PYTHON` of `env` when set, else this
    interpreter); return the monotonic time just before the spawn."""
    with stdout.open("ab") as out:
        spawned_ns = time.monotonic_ns()
        completed = subprocess.run(  # noqa: S603 - our own interpreter and script
            [env.get("BENCH_PYTHON", sys.executable), str(CHILD), *args],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.PIPE,
            check=False,
        )
    if completed.returncode != 0:
        raise RuntimeError(
            f"benchmark child failed ({completed.returncode}):\n{completed.stderr.decode()}"
        )
    return spawned_ns


def cold_start(
    side: str, function_file: Path, event_file: Path, work: Path, env: dict[str, str]
) -> ColdSample:
    result_file = work / f"cold-{side}.json"
    spawned_ns = _run_child(
        ["cold", str(function_file), str(event_file), str(result_file)],
        env,
        work / f"cold-{side}.stdout",
    )
    result = json.loads(result_file.read_text())
    if result["status"] != 200:
        raise RuntimeError(f"{side}: cold invocation answered {result['status']}: {result['body']}")
    return ColdSample(
        import_ms=(result["imported_ns"] - result["import_started_ns"]) / 1e6,
        invoke_ms=(result["answered_ns"] - result["imported_ns"]) / 1e6,
        process_ms=(result["answered_ns"] - spawned_ns) / 1e6,
    )


def measure_cold(
    results: Results, runs: int, event_file: Path, work: Path, env: dict[str, str]
) -> None:
    files = {"ours": OURS, "bare": BARE}
    # One discarded pair first: writes the layer's .pyc files and warms the page cache.
    for side in SIDES:
        cold_start(side, files[side], event_file, work, env)
    print(f"cold start: {runs} fresh interpreters per app …", file=sys.stderr)
    for run in range(runs):
        for side in SIDES if run % 2 == 0 else SIDES[::-1]:
            results.cold[side].append(cold_start(side, files[side], event_file, work, env))


def prepare_servers(env: dict[str, str]) -> None:
    """Point this process at the servers of `env` (for good), migrate and seed them; quiet
    the logger below WARNING, since stdout is the report's."""
    os.environ.update(env)
    # The seed's catalog names the local stack's offline providers, as `scripts/run` loads it.
    os.environ.setdefault("RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK", "true")
    from retouch.bootstrap.clients import reset_clients
    from retouch.core.logging import logger
    from retouch.core.settings import get_settings
    from scripts.local.migrate import apply_migrations, load_seed

    logger.setLevel("WARNING")
    reset_clients()
    apply_migrations(get_settings())
    load_seed()
    reset_clients()


def _interleaved(arguments: list[str], name: str, work: Path, env: dict[str, str]) -> Any:
    """Run a timing mode of tests/bench/invoke.py that writes work/`name`.json; its result.
    Every call must answer 2xx."""
    _run_child(arguments, env, work / f"{name}.stdout")
    result = json.loads((work / f"{name}.json").read_text())
    failed = {side: n for side, n in result["failures"].items() if n}
    if failed:
        first = result.get("first_failure")
        raise RuntimeError(f"{name}: invocations did not answer 2xx: {failed}; first: {first}")
    return result


def run_warm(
    ours: Path,
    event_file: Path,
    work: Path,
    env: dict[str, str],
    *,
    warmup: int,
    rounds: int,
    per_round: int,
    name: str = "warm",
) -> dict[str, Any]:
    """tests/bench/invoke.py's warm mode: `ours` beside the bare app in one fresh interpreter,
    interleaved rounds; its result (`samples_ns`, `stdout_bytes` per side). Every call must
    answer 2xx."""
    arguments = [str(ours), str(BARE), str(event_file), str(work / f"{name}.json")]
    counts = [str(warmup), str(rounds), str(per_round)]
    result: dict[str, Any] = _interleaved(["warm", *arguments, *counts], name, work, env)
    return result


def run_events(
    function: Path,
    events: dict[str, Path],
    work: Path,
    env: dict[str, str],
    *,
    warmup: int,
    rounds: int,
    per_round: int,
    name: str,
) -> dict[str, Any]:
    """tests/bench/invoke.py's events mode: one function in a fresh interpreter, each named
    event a side, interleaved rounds; its result (`samples_ns`, `stdout_bytes` per name)."""
    arguments = [str(function), str(work / f"{name}.json"), str(warmup), str(rounds)]
    named = [f"{side}={path}" for side, path in events.items()]
    result: dict[str, Any] = _interleaved(
        ["events", *arguments, str(per_round), *named], name, work, env
    )
    return result


def measure_warm(
    results: Results,
    calls: int,
    rounds: int,
    warmup: int,
    event_file: Path,
    work: Path,
    env: dict[str, str],
) -> None:
    per_round = max(1, calls // rounds)
    print(f"warm: {rounds} interleaved rounds x {per_round} calls per app …", file=sys.stderr)
    result = run_warm(
        OURS, event_file, work, env, warmup=warmup, rounds=rounds, per_round=per_round
    )
    results.warm_ns = result["samples_ns"]
    results.stdout_bytes_per_call = {
        side: result["stdout_bytes"][side] / len(result["samples_ns"][side]) for side in SIDES
    }


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


@dataclass(frozen=True)
class Figure:
    """One table row: the same statistic for both apps, optionally held to a target ratio."""

    label: str
    ours: float
    bare: float
    unit: str
    target: float | None = None
    verdict_name: str = ""

    @property
    def ratio(self) -> float:
        return self.ours / self.bare

    @property
    def passed(self) -> bool:
        return self.target is None or self.ratio <= self.target

    def cells(self) -> list[str]:
        digits = 1 if self.unit == "ms" else 0
        cells = [
            self.label,
            f"{self.ours:.{digits}f} {self.unit}",
            f"{self.bare:.{digits}f} {self.unit}",
            f"{self.ratio:.2f}×",
        ]
        if self.target is None:
            return [*cells, "", ""]
        return [*cells, f"≤ {self.target}×", "pass" if self.passed else "FAIL"]


def figures(results: Results) -> list[Figure]:
    def cold(attribute: str, statistic: str) -> tuple[float, float]:
        per_side = [[getattr(sample, attribute) for sample in results.cold[s]] for s in SIDES]
        if statistic == "median":
            return statistics.median(per_side[0]), statistics.median(per_side[1])
        return percentile(per_side[0], 90), percentile(per_side[1], 90)

    def warm(q: float) -> tuple[float, float]:
        ours, bare = ([ns / 1000 for ns in results.warm_ns[s]] for s in SIDES)
        return percentile(ours, q), percentile(bare, q)

    return [
        Figure(
            "cold: import → first response, median",
            *cold("import_to_response_ms", "median"),
            "ms",
            COLD_TARGET,
            "cold start",
        ),
        Figure("cold: import → first response, p90", *cold("import_to_response_ms", "p90"), "ms"),
        Figure("cold: … of which import, median", *cold("import_ms", "median"), "ms"),
        Figure("cold: … of which first invocation, median", *cold("invoke_ms", "median"), "ms"),
        Figure(
            "cold: interpreter start → first response, median", *cold("process_ms", "median"), "ms"
        ),
        Figure("cold: interpreter start → first response, p90", *cold("process_ms", "p90"), "ms"),
        Figure("warm: GET /health/redis, p50", *warm(50), "µs", WARM_TARGET, "warm p50"),
        Figure("warm: GET /health/redis, p90", *warm(90), "µs"),
        Figure("warm: GET /health/redis, p99", *warm(99), "µs"),
    ]


def report(results: Results, args: argparse.Namespace) -> str:
    """The conditions, the table and the verdict, as Markdown."""
    rows = figures(results)
    out_bytes = results.stdout_bytes_per_call
    lines = [
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        ", ".join(f"{name} {importlib.metadata.version(name)}" for name in PACKAGES),
        f"cold: {args.cold_runs} fresh interpreters per app, alternating; "
        f"warm: {len(results.warm_ns['ours'])} calls per app in one process after "
        f"{args.warmup} warm-up calls each, {args.warm_rounds} interleaved rounds; "
        "stdout of both apps to a file",
        f"event: API Gateway REST v1 GET /health/redis ({results.event_source})",
        "",
        _row(["metric", "retouch health", "bare FastAPI+Mangum", "ratio", "target", "result"]),
        _row(["---", "---:", "---:", "---:", "---", "---"]),
        *(_row(row.cells()) for row in rows),
        _row(
            [
                "warm: stdout per request (access log + EMF)",
                f"{out_bytes['ours']:.0f} B",
                f"{out_bytes['bare']:.0f} B",
                "",
                "",
                "",
            ]
        ),
        "",
    ]
    judged = [row for row in rows if row.target is not None]
    verdict = "PASS" if all(row.passed for row in judged) else "FAIL"
    details = "; ".join(f"{row.verdict_name} {row.ratio:.2f}× (≤ {row.target}×)" for row in judged)
    lines.append(f"verdict: {verdict} — {details}")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = warm_argument_parser(__doc__)
    parser.add_argument("--cold-runs", type=int, default=20, help="fresh processes per app")
    parser.add_argument(
        "--sentry-dsn",
        default="",
        help="run with error tracking on (RETOUCH_SENTRY_DSN; nothing is sent unless a "
        "request fails); default: the environment's, usually unset",
    )
    args = parser.parse_args(argv)
    if min(args.cold_runs, args.warm_calls, args.warm_rounds) < 1 or args.warmup < 0:
        parser.error("counts must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with temporary_servers("retouch-bench-") as (mariadb, redis, work):
        env = child_env({**mariadb.env(), **redis.env()})
        if args.sentry_dsn:
            env["RETOUCH_SENTRY_DSN"] = args.sentry_dsn
        event, event_source = load_event()
        event_file = work / "event.json"
        event_file.write_text(json.dumps(event))
        results = Results(event_source=event_source)
        measure_cold(results, args.cold_runs, event_file, work, env)
        measure_warm(results, args.warm_calls, args.warm_rounds, args.warmup, event_file, work, env)
    print(report(results, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
