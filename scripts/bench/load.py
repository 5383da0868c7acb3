"""Benchmark: the seed's load scenario — many users online, each asking about once a second —
against the local runtime with N processes and a bare FastAPI app with N processes, one run.

    .venv/bin/python -m scripts.bench.load [--users 1000] [--seconds 60] [--think-ms 1000]
        [--max-seconds 20] [--connections 1000] [--processes N] [--rounds 1]

Starts the local stack (`python -m scripts.local.stack --processes N` on free ports, its own
MariaDB and Redis in a temporary folder, rate limits raised for the run through
RETOUCH_RATE_LIMIT_*), adds `--users` accounts with ~50 tasks each (scripts/bench/
generate_tasks.py), credits and one ready upload each, and signs each an access token with the
stack's JWT key (no Argon2). Then starts two baselines on the same servers, each with N
uvicorn workers: the bare app (scripts/bench/load_bare.py: JWT verify, one MySQL read, one
Redis GET) as a plain ASGI app — the issue's comparison — and the same app as a function behind
the local runtime's gateway (scripts/bench/load_bare_gateway.py: the REST event, a handler
thread, Mangum — what ours is served through), and drives all three in turn
with wrk (scripts/bench/load.lua: `--connections` connections, a user drawn per request; 50 %
task reads, 20 % event polls, 15 % the list, 10 % the catalogue, 5 % creates):

After a 3-second unrecorded warm-up of each (every worker thread connects):

a. the scenario: after each response a connection waits `--think-ms` × [0.5, 1.5), so
   `--connections` users offer about connections ÷ think-time requests per second, for
   `--seconds`, ours then each baseline, `--rounds` times;
b. back to back: no think time, for `--max-seconds`, ours then each baseline.

Each row reports requests/s, mean/p50/p99 latency, errors (connect/read/write, non-2xx,
timeouts over 5 s), the p99 of MariaDB's statement execution time (its query_response_time
histogram, powers of 2: the bucket's upper bound) and the CPU each group used, in cores, from
/proc: the app's processes, mariadbd, redis-server and wrk. Prints a Markdown table; always
exits 0 (a measurement, not a test). Results in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pymysql

from scripts.local.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
LUA = Path(__file__).with_name("load.lua")
PYTHONPATH = f"{ROOT / 'layers' / 'retouch'}:{ROOT}"
RAISED_LIMITS = {
    "RETOUCH_RATE_LIMIT_PER_IP_PER_MIN": "100000000",
    "RETOUCH_RATE_LIMIT_TASKS_PER_USER_PER_MIN": "100000",
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
WARMUP_S = 3
GROUPS = ("app", "mariadbd", "redis-server")
#: Handler threads per function per worker process: the stack's default (`--workers`), and
#: the bare function's behind the gateway.
THREADS = 4


@dataclass(frozen=True)
class Target:
    """A server under load: its name, URL and the process that owns its app processes."""

    name: str
    url: str
    process: subprocess.Popen[bytes]


@dataclass(frozen=True)
class Row:
    label: str
    target: str
    figures: dict[str, Any]
    db_p99_ms: float | None
    cpu: dict[str, float]


def _spawn(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(  # noqa: S603 - our own modules, fixed arguments
            command, cwd=ROOT, env=env, stdout=output, stderr=output
        )


def _wait_until(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} did not come up:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up in time; see {log}")


def _objects(work: Path) -> dict[str, str]:
    """The local storage's folder, for the stack and the uploads `prepare_users` stores."""
    return {"RETOUCH_STORAGE_LOCAL_ROOT": str(work / "objects")}


def start_stack(work: Path, processes: int) -> tuple[Target, dict[str, str]]:
    """The local stack with `processes` workers; the RETOUCH_* of its env file."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": PYTHONPATH, **RAISED_LIMITS, **_objects(work)}
    command = [sys.executable, "-m", "scripts.local.stack", "--data-dir", str(work / "local")]
    for option in ("--port", "--db-port", "--redis-port", "--simulator-port"):
        command += [option, str(port if option == "--port" else free_port())]
    command += ["--processes", str(processes), "--workers", str(THREADS)]
    process = _spawn(command, env, work / "stack.log")
    url = f"http://127.0.0.1:{port}"
    _wait_until(f"{url}/health", process, work / "stack.log")
    lines = (work / "local" / "env").read_text().splitlines()
    stack_env = dict(line.split("=", 1) for line in lines if "=" in line)
    return Target("ours", url, process), stack_env


def start_bare(work: Path, processes: int, stack_env: dict[str, str]) -> Target:
    """scripts/bench/load_bare.py under uvicorn with `processes` workers."""
    return _serve_bare("bare", "scripts.bench.load_bare:app", work, processes, stack_env)


def start_bare_gateway(work: Path, processes: int, stack_env: dict[str, str]) -> Target:
    """The same bare app as a function behind the local runtime's gateway, `processes`
    workers with the stack's handler threads (scripts/bench/load_bare_gateway.py)."""
    factory = "scripts.bench.load_bare_gateway:worker_app"
    return _serve_bare("bare behind the gateway", factory, work, processes, stack_env)


def _serve_bare(
    name: str, app: str, work: Path, processes: int, stack_env: dict[str, str]
) -> Target:
    from scripts.local.processes import THREADS_VARIABLE  # the layer is on the path by now

    port = free_port()
    env = {**os.environ, **stack_env, "PYTHONPATH": PYTHONPATH, THREADS_VARIABLE: str(THREADS)}
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port)]
    command += ["--workers", str(processes), "--no-access-log", "--log-level", "warning"]
    if app.endswith("worker_app"):
        command.append("--factory")
    log = work / f"{name.split()[0]}-{port}.log"
    process = _spawn(command, env, log)
    _wait_until(f"http://127.0.0.1:{port}/v1/features", process, log)
    return Target(name, f"http://127.0.0.1:{port}", process)


def prepare_users(work: Path, stack_env: dict[str, str], users: int, data_file: Path) -> None:
    """`users` accounts with tasks, credits and a stored upload each (its object in the
    storage, so a task's prepare step finds it unchanged); one line per user for wrk."""
    os.environ.update({**stack_env, **_objects(work)})
    sys.path.insert(0, str(ROOT / "layers" / "retouch"))
    from retouch.core.db import get_database
    from retouch.core.ids import new_public_id
    from retouch.core.security import TokenConfig, issue_access_token
    from retouch.core.settings import get_settings
    from retouch.providers.local.samples import sample_images
    from retouch.quota.service import grant_credits, open_account
    from retouch.storage import get_storage, upload_key
    from retouch.uploads.integrity import fingerprint
    from scripts.bench.generate_tasks import generate

    database = get_database()
    generate(database, rows=50 * users, user_rows=0, users=users)
    config, storage = TokenConfig.from_settings(get_settings()), get_storage()
    image = sample_images()["product"]
    lines = []
    with database.unit_of_work() as uow:
        rows = uow.fetch_all(
            "SELECT u.id, u.public_id, MAX(t.public_id) AS task FROM users u "
            "JOIN tasks t ON t.user_id = u.id AND t.hidden = 0 AND t.status = 'succeeded' "
            "GROUP BY u.id, u.public_id"
        )
        for row in rows:
            upload = new_public_id("upl")
            open_account(uow=uow, user_id=row["id"])
            grant_credits(uow=uow, user_id=row["id"], amount=10_000, reason="bench", ref=upload)
            key = upload_key(user_id=row["public_id"], upload_id=upload)
            storage.put(key, image, "image/png")
            uow.execute(
                "INSERT INTO uploads (public_id, user_id, object_key, content_type, "
                "declared_size, status, width, height, actual_size, sha256) "
                "VALUES (%s, %s, %s, 'image/png', %s, 'ready', 8, 8, %s, %s)",
                (upload, row["id"], key, len(image), len(image), fingerprint(image)),
            )
            issued = issue_access_token(
                config=config,
                subject=row["public_id"],
                role="user",
                session_id=new_public_id("ses"),
            )
            lines.append(f"{issued.token} {row['task']} {upload}")
        uow.commit()
    data_file.write_text("\n".join(lines) + "\n")
    print(f"load: {len(lines)} users ready", file=sys.stderr)


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, pending = {pid}, [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.add(child)
            pending.append(child)
    return found


def cpu_ticks(owner: int, stack: int) -> dict[str, int]:
    """CPU ticks (user + system) so far of each group: the Python processes under `owner`
    (the app), the stack's mariadbd and redis-server (not another run's)."""
    totals = dict.fromkeys(GROUPS, 0)
    app, servers = _descendants(owner), _descendants(stack)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, tail = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        name, fields = head.split("(", 1)[1], tail.split()
        pid = int(entry.name)
        group = "app" if pid in app and name.startswith("python") else None
        if name in GROUPS and pid in servers:
            group = name
        if group:
            totals[group] += int(fields[11]) + int(fields[12])
    return totals


class ResponseTimes:
    """MariaDB's query_response_time histogram (the plugin, powers of 2), through root."""

    def __init__(self, data_dir: Path) -> None:
        self._socket = str(data_dir / "mariadb" / "mysqld.sock")
        with self._connection() as cursor:
            cursor.execute("SELECT COUNT(*) FROM information_schema.PLUGINS "
                           "WHERE PLUGIN_NAME = 'QUERY_RESPONSE_TIME'")  # fmt: skip
            if not cursor.fetchone()[0]:
                cursor.execute("INSTALL SONAME 'query_response_time'")
            cursor.execute("SET GLOBAL query_response_time_range_base = 2")
            cursor.execute("SET GLOBAL query_response_time_stats = ON")

    @contextmanager
    def _connection(self) -> Iterator[Any]:
        connection = pymysql.connect(unix_socket=self._socket, user="root", autocommit=True)
        try:
            with connection.cursor() as cursor:
                yield cursor
        finally:
            connection.close()

    def reset(self) -> None:
        with self._connection() as cursor:
            cursor.execute("SET GLOBAL query_response_time_flush = 1")

    def p99_ms(self) -> float | None:
        with self._connection() as cursor:
            cursor.execute("SELECT TIME, COUNT FROM information_schema.QUERY_RESPONSE_TIME")
            buckets = [(str(time_).strip(), int(count)) for time_, count in cursor.fetchall()]
        total = sum(count for _, count in buckets)
        seen = 0
        for bound, count in buckets:
            seen += count
            if total and seen >= 0.99 * total:
                return float("inf") if bound == "TOO LONG" else float(bound) * 1000
        return None


def run_wrk(
    target: Target, data: Path, *, think_ms: int, seconds: int, connections: int
) -> dict[str, Any]:
    """One wrk run against `target`; the JSON line of load.lua's done()."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "5s", "-s", str(LUA)]
    result = subprocess.run(  # noqa: S603 - wrk with our arguments
        [*command, target.url, "--", str(data), str(think_ms)],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    return dict(json.loads(lines[-1]))


def measure(
    label: str, target: Target, stack: Target, data: Path, times: ResponseTimes, **wrk: int
) -> Row:
    """One wrk run with the DB histogram and the CPU of each group around it."""
    times.reset()
    owners = (target.process.pid, stack.process.pid)
    before, started = cpu_ticks(*owners), time.monotonic()
    generator = resource.getrusage(resource.RUSAGE_CHILDREN)
    figures = run_wrk(target, data, **wrk)
    elapsed = time.monotonic() - started
    after, spent = cpu_ticks(*owners), resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {group: (after[group] - before[group]) / CLOCK_TICKS / elapsed for group in GROUPS}
    cpu["wrk"] = (
        spent.ru_utime + spent.ru_stime - generator.ru_utime - generator.ru_stime
    ) / elapsed
    print(f"load: {label} {target.name}: {figures}", file=sys.stderr)
    return Row(label, target.name, figures, times.p99_ms(), cpu)


def _ms(microseconds: float) -> str:
    return f"{microseconds / 1000:,.1f}"


def _statuses(counts: dict[str, int]) -> str:
    spread = ", ".join(f"{status}: {count}" for status, count in sorted(counts.items()))
    return f"{sum(counts.values())} ({spread})" if counts else "0"


def report(rows: Sequence[Row], args: argparse.Namespace) -> str:
    """The Markdown table, with the ratios ours ÷ bare of each pair of rows."""
    lines = [
        f"{args.users} users, {args.connections} connections, {args.processes} processes each, "
        f"think {args.think_ms} ms, {args.seconds} s per scenario run, {args.max_seconds} s "
        f"back to back; load average before: {os.getloadavg()[0]:.2f}",
        "",
        "| run | app | requests/s | mean ms | p50 ms | p99 ms | errors (conn/read/write) "
        "| non-2xx (by status) | timeouts | DB p99 ms | CPU app | mariadbd | redis | wrk |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        f, cpu = row.figures, row.cpu
        rate = f["requests"] / (f["duration_us"] / 1e6)
        db = "n/a" if row.db_p99_ms is None else f"≤ {row.db_p99_ms:g}"
        lines.append(
            f"| {row.label} | {row.target} | {rate:,.0f} | {_ms(f['mean_us'])} "
            f"| {_ms(f['p50_us'])} | {_ms(f['p99_us'])} | {f['connect']}/{f['read']}/{f['write']} "
            f"| {_statuses(f['statuses'])} | {f['timeout']} | {db} | {cpu['app']:.2f} "
            f"| {cpu['mariadbd']:.2f} | {cpu['redis-server']:.2f} | {cpu['wrk']:.2f} |"
        )
    lines += [
        "",
        "| run | requests/s ours ÷ bare | p99 ours ÷ bare | requests/s ours ÷ bare behind "
        "the gateway | p99 ours ÷ bare behind the gateway |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, ours, bare, gateway in _runs(rows):
        lines.append(
            f"| {label} | {_rate(ours) / _rate(bare):.2f}× | {_p99(ours) / _p99(bare):.2f}× "
            f"| {_rate(ours) / _rate(gateway):.2f}× | {_p99(ours) / _p99(gateway):.2f}× |"
        )
    return "\n".join(lines)


def _runs(rows: Sequence[Row]) -> Iterator[tuple[str, Row, Row, Row]]:
    """Each run's rows (ours, bare, bare behind the gateway), in the order they ran."""
    for start in range(0, len(rows), 1 + len(BASELINES)):
        ours, bare, gateway = rows[start : start + 1 + len(BASELINES)]
        yield ours.label, ours, bare, gateway


def _rate(row: Row) -> float:
    return float(row.figures["requests"]) / float(row.figures["duration_us"])


def _p99(row: Row) -> float:
    return max(1.0, float(row.figures["p99_us"]))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=60, help="each scenario run")
    parser.add_argument("--think-ms", type=int, default=1000)
    parser.add_argument("--max-seconds", type=int, default=20, help="each back-to-back run")
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=1, help="scenario pairs (ours, bare)")
    return parser.parse_args(argv)


def run(args: argparse.Namespace, work: Path) -> list[Row]:
    """Start the three apps, prepare the users, drive the scenario and the back-to-back runs:
    each run against ours, the bare app and the bare app behind the gateway in turn."""
    stack, stack_env = start_stack(work, args.processes)
    targets = [stack]
    try:
        data = work / "users.txt"
        prepare_users(work, stack_env, args.users, data)
        targets += [start(work, args.processes, stack_env) for start in BASELINES]
        times = ResponseTimes(work / "local")
        for target in targets:  # warm-up: every worker thread connects, nothing recorded
            run_wrk(target, data, think_ms=0, seconds=WARMUP_S, connections=args.connections)
        scenario = {"think_ms": args.think_ms, "seconds": args.seconds}
        back_to_back = {"think_ms": 0, "seconds": args.max_seconds}
        runs = [("scenario", scenario)] * args.rounds + [("back to back", back_to_back)]
        return [
            measure(label, target, stack, data, times, connections=args.connections, **wrk)
            for label, wrk in runs
            for target in targets
        ]
    finally:
        for started in reversed(targets):
            started.process.send_signal(signal.SIGINT)
            started.process.wait(60)


#: What each run drives after ours, in turn: the bare app, then the bare app behind the gateway.
BASELINES = (start_bare, start_bare_gateway)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("load: wrk is not installed (scripts/setup installs it)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="retouch-load-") as folder:
        rows = run(args, Path(folder))
    print(report(rows, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
