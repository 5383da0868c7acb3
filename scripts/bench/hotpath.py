"""Benchmark: the warm authenticated request path against the bare apps, and where its time goes.

    .venv/bin/python -m scripts.bench.hotpath [--warm-calls N] [--warm-rounds N] [--warmup N]
        [--profile-calls N] [--no-profile]

Starts a private MariaDB and Redis, migrates and seeds, registers one user with 40 tasks, credits
and a ready upload, then, in one fresh interpreter (tests/bench/invoke.py's `apps` mode,
interleaved rounds, API Gateway REST v1 events with the user's access token):

- `GET /v1/tasks/{id}` and `POST /v1/tasks` of the tasks function, `GET /v1/me` of the users
  function;
- the bare FastAPI+Mangum app doing the equivalent work (tests/bench/bare_auth_app.py: verify
  the token, one MySQL read of the caller by its unique key, one Redis GET) — the targets:
  read and me p50 ≤ 1.5×, create ≤ 3×;
- the bare app of the older benchmarks (tests/bench/bare_app.py: one Redis GET), for the
  record.

Then, in this process, the caller's statement (`MySQLCallerRepository.caller`) against the
bare app's read of the caller by its unique key, interleaved: wall and client CPU per
statement. Then, unless `--no-profile`, each of the three requests (and the bare auth app on
the read's event) again under cProfile in its own fresh interpreter (`profile` mode), timing
CPU, not the wall, so a busy machine's queue does not land on whichever call waits: CPU per
request by part (cumulative µs of the frames that make each part) and the top frames by own
time. cProfile adds its own cost to every call, so the parts are shares, not latencies; the
wall and CPU time without the profiler are printed beside. The bare app's route runs in a
worker thread the profiler does not follow: its profile shows FastAPI and Mangum only.

Prints the tables and the verdicts and always exits 0: a measurement, not a test. Results
are in docs/performance.md ("Hot path: where the time goes").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scripts.bench.health import BARE as BARE_REDIS
from scripts.bench.health import (
    _interleaved,
    _run_child,
    child_env,
    percentile,
    warm_argument_parser,
)
from scripts.bench.me import EVENT as ME_EVENT
from scripts.bench.me import OURS as USERS
from scripts.bench.me import sign_up
from scripts.bench.tasks import OURS as TASKS
from scripts.bench.tasks import ready_upload, rest_event
from scripts.local.servers import temporary_servers

ROOT = Path(__file__).resolve().parents[2]
BARE_AUTH = ROOT / "tests" / "bench" / "bare_auth_app.py"
TARGETS = {"read": 1.5, "me": 1.5, "create": 3.0}
LABELS = {"read": "GET /v1/tasks/{id}", "me": "GET /v1/me", "create": "POST /v1/tasks"}
FILES = {"read": TASKS, "me": USERS, "create": TASKS}
LABELS["bare auth"] = "bare auth app (GET /v1/tasks/{id} event)"
PROFILED = {**FILES, "bare auth": BARE_AUTH}
#: The socket calls of the round trips (their CPU: the system calls, not the wait).
SOCKET_WAITS = ("'recv_into' of '_socket", "'recv' of '_socket", "'sendall' of '_socket")

#: The parts of a request, each the cumulative time of the frames whose key ends with one of
#: the suffixes (the largest, so a recursive frame counts once).
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("whole invocation (adapters.handler)", ("retouch/http/adapters.py:", "(handler)")),
    ("Mangum: event → scope, response → dict", ("mangum/adapter.py:", "(__call__)")),
    ("request-context middleware (all inside)", ("retouch/http/middleware.py:", "(__call__)")),
    ("per-IP rate limit (EVALSHA)", ("retouch/http/rate_limits.py:", "(enforce_client_limit)")),
    ("access log + metrics (_record)", ("retouch/http/middleware.py:", "(_record)")),
    ("security headers", ("retouch/http/security_headers.py:", "(add_security_headers)")),
    (
        "FastAPI dependencies (solve_dependencies)",
        ("fastapi/dependencies/utils.py:", "(solve_dependencies)"),
    ),
    ("token check (verify_access_token)", ("retouch/core/security.py:", "(verify_access_token)")),
    ("caller statement (MySQLCallerRepository)", ("retouch/caller/repository.py:", "(caller")),
    ("unit of work enter/exit", ("retouch/core/db.py:", "(__exit__)")),
    ("MySQL round trips (fetch_all/fetch_one/execute)", ("retouch/core/db.py:", "(fetch_")),
    ("response validation + serialisation", ("fastapi/routing.py:", "(serialize_response)")),
    ("JSON response render", ("starlette/responses.py:", "(render)")),
)


def prepare(env: dict[str, str], work: Path, credits: int) -> tuple[str, dict[str, Path]]:
    """Sign up, generate the user's tasks and an upload; the token and the events' files."""
    from retouch.bootstrap.clients import reset_clients
    from retouch.core.db import get_database
    from scripts.bench.smoke import _owned_task

    token = sign_up(env)
    task = _owned_task(token)
    database = get_database()
    with database.read_only() as uow:
        user = _user(uow, token)
    upload = ready_upload(database, user, credits=credits)
    reset_clients()
    events = {
        "read": rest_event(token, "GET", f"/v1/tasks/{task}"),
        "me": json.loads(ME_EVENT.read_text().replace("<access-token>", token)),
        "create": rest_event(
            token, "POST", "/v1/tasks", body={"feature": "cutout", "inputs": {"image": upload}}
        ),
    }
    files = {}
    for name, event in events.items():
        files[name] = work / f"event-{name}.json"
        files[name].write_text(json.dumps(event))
    return token, files


def statement_costs(token: str, rounds: int = 10, per_round: int = 100) -> list[str]:
    """The caller statement against a read of the caller by its unique key (what the bare
    app sends), each through our unit of work on this process's connection, interleaved:
    wall (server and round trip) and this process's CPU per statement, p50."""
    import statistics
    import time

    from retouch.caller.repository import MySQLCallerRepository
    from retouch.core.db import get_database
    from retouch.core.time import utc_now

    claims = _unverified(token)
    database = get_database()

    def caller() -> None:
        with database.read_only() as uow:
            MySQLCallerRepository(uow).caller(
                public_id=claims["sub"], session_id=claims["sid"], now=utc_now()
            )

    def by_key() -> None:
        with database.read_only() as uow:
            uow.fetch_one("SELECT id, status FROM users WHERE public_id = %s", (claims["sub"],))

    sides = {"caller statement (4 tables, 13 columns)": caller, "by unique key (2 columns)": by_key}
    wall: dict[str, list[int]] = {name: [] for name in sides}
    cpu: dict[str, list[int]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, run in sides.items():
            for _ in range(per_round):
                started, cpu_started = time.perf_counter_ns(), time.process_time_ns()
                run()
                cpu[name].append(time.process_time_ns() - cpu_started)
                wall[name].append(time.perf_counter_ns() - started)
    lines = ["| statement | wall p50 | client CPU p50 |", "| --- | ---: | ---: |"]
    for name in sides:
        lines.append(
            f"| {name} | {statistics.median(wall[name]) / 1000:.0f} µs "
            f"| {statistics.median(cpu[name]) / 1000:.0f} µs |"
        )
    return lines


def _unverified(token: str) -> dict[str, Any]:
    import jwt

    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def _user(uow: Any, token: str) -> Any:
    from retouch.caller.repository import user_from_row

    subject = _unverified(token)["sub"]
    return user_from_row(uow.fetch_one("SELECT * FROM users WHERE public_id = %s", (subject,)))


def measure(
    args: argparse.Namespace, files: dict[str, Path], work: Path, env: dict[str, str]
) -> dict[str, list[int]]:
    """Every side interleaved in one interpreter; samples (ns) by side."""
    per_round = max(1, args.warm_calls // args.warm_rounds)
    specs = [f"{name}={FILES[name]}={files[name]}" for name in ("read", "me", "create")]
    specs += [f"bare auth={BARE_AUTH}={files['read']}", f"bare redis={BARE_REDIS}={files['read']}"]
    print(f"warm: {args.warm_rounds} rounds x {per_round} calls per side …", file=sys.stderr)
    counts = [str(args.warmup), str(args.warm_rounds), str(per_round)]
    result = _interleaved(["apps", str(work / "apps.json"), *counts, *specs], "apps", work, env)
    samples: dict[str, list[int]] = result["samples_ns"]
    samples.update({f"{side} cpu": values for side, values in result["cpu_ns"].items()})
    return samples


def profile(
    args: argparse.Namespace, name: str, files: dict[str, Path], work: Path, env: dict[str, str]
) -> dict[str, Any]:
    """One request's profile in a fresh interpreter: {plain_us, functions}."""
    result_file = work / f"profile-{name}.json"
    event = files["read" if name == "bare auth" else name]
    arguments = [str(PROFILED[name]), str(event), str(result_file)]
    _run_child(
        ["profile", *arguments, str(args.warmup), str(args.profile_calls)],
        env,
        work / f"profile-{name}.stdout",
    )
    result: dict[str, Any] = json.loads(result_file.read_text())
    return result


def part_rows(functions: dict[str, list[float]]) -> list[tuple[str, float]]:
    """Each part's cumulative µs per request (0 when none of its frames ran)."""
    rows = []
    for label, (path, name) in PARTS:
        matching = [v[2] for key, v in functions.items() if path in key and name in key]
        rows.append((label, max(matching, default=0.0)))
    return rows


def warm_report(samples: dict[str, list[int]]) -> list[str]:
    lines = [
        "| request | p50 | p90 | p99 | p50 ÷ bare auth | target | result | p50 ÷ bare redis "
        "| CPU p50 | CPU ÷ bare auth |",
        "| --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |",
    ]
    micro = {side: [ns / 1000 for ns in values] for side, values in samples.items()}
    bare_auth, bare_redis = (percentile(micro[s], 50) for s in ("bare auth", "bare redis"))
    verdicts = []
    for side in ("read", "me", "create", "bare auth", "bare redis"):
        p50, p90, p99 = (percentile(micro[side], q) for q in (50, 90, 99))
        ratio, target = p50 / bare_auth, TARGETS.get(side)
        result = "" if target is None else ("pass" if ratio <= target else "FAIL")
        if target is not None:
            verdicts.append(f"{side} {ratio:.2f}× {result}")
        cells = [LABELS.get(side, side), f"{p50:.0f} µs", f"{p90:.0f} µs", f"{p99:.0f} µs"]
        cells += [f"{ratio:.2f}×", "" if target is None else f"≤ {target}×", result]
        cpu, cpu_bare = (percentile(micro[f"{s} cpu"], 50) for s in (side, "bare auth"))
        cells += [f"{p50 / bare_redis:.2f}×", f"{cpu:.0f} µs", f"{cpu / cpu_bare:.2f}×"]
        lines.append("| " + " | ".join(cells) + " |")
    overall = "PASS" if all(v.endswith("pass") for v in verdicts) else "FAIL"
    return [*lines, "", f"verdict: {overall} — {'; '.join(verdicts)}"]


def profile_report(name: str, result: dict[str, Any], top: int) -> list[str]:
    functions: dict[str, list[float]] = result["functions"]
    lines = [
        f"### {LABELS[name]}: {result['plain_us']:.0f} µs, {result['cpu_us']:.0f} µs of CPU "
        "per request without the profiler",
        "",
        "| part | CPU µs per request (profiled) |",
        "| --- | ---: |",
    ]
    lines += [f"| {label} | {us:.0f} |" for label, us in part_rows(functions)]
    own = sum(v[1] for v in functions.values())
    waits = sum(v[1] for key, v in functions.items() if any(w in key for w in SOCKET_WAITS))
    lines += [
        f"| all frames (profiled CPU) | {own:.0f} |",
        f"| of which in socket calls (round trips) | {waits:.0f} |",
    ]
    lines += ["", "| frame (top by own time) | calls | own µs | cumulative µs |"]
    lines.append("| --- | ---: | ---: | ---: |")
    ranked = sorted(functions.items(), key=lambda item: item[1][1], reverse=True)[:top]
    for key, (calls, own, total) in ranked:
        short = key.split("site-packages/")[-1].split("layers/retouch/")[-1]
        lines.append(f"| `{short}` | {calls:g} | {own:.1f} | {total:.1f} |")
    return [*lines, ""]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = warm_argument_parser(__doc__)
    parser.add_argument("--profile-calls", type=int, default=1000, help="profiled calls")
    parser.add_argument("--top", type=int, default=25, help="frames listed per profile")
    parser.add_argument("--no-profile", action="store_true", help="the warm run only")
    parser.add_argument("--keep", type=Path, help="also write the raw samples and profiles here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with temporary_servers("retouch-bench-hotpath-") as (mariadb, redis, work):
        env = child_env({**mariadb.env(), **redis.env()})
        env["RETOUCH_RATE_LIMIT_TASKS_PER_USER_PER_MIN"] = "1000000"
        creates = 2 * (args.warmup + args.warm_calls + args.profile_calls)
        token, files = prepare(env, work, credits=100 * creates)
        samples = measure(args, files, work, env)
        statements = statement_costs(token)
        profiles = (
            {} if args.no_profile else {n: profile(args, n, files, work, env) for n in PROFILED}
        )
    lines = [
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"warm: {len(samples['read'])} calls per side after {args.warmup} warm-up calls each, "
        f"{args.warm_rounds} interleaved rounds in one interpreter; events: REST v1",
        "",
        *warm_report(samples),
        "",
        "The caller's statement against the bare app's read, in this process:",
        "",
        *statements,
        "",
    ]
    if args.keep is not None:
        args.keep.write_text(json.dumps({"samples_ns": samples, "profiles": profiles}))
    for name, result in profiles.items():
        lines += profile_report(name, result, args.top)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
