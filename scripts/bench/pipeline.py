"""Benchmark: pipeline throughput and engine CPU per task, and a step function's cold start
beside a bare Powertools batch handler, measured in one run.

    .venv/bin/python -m scripts.bench.pipeline [--tasks 500] [--threads 1 2] \
        [--simulator-threads 1] [--cold-runs 20]

Starts a private MariaDB and Redis in a temporary folder (like the other benchmarks), then

* throughput: N `cutout` tasks are created through the tasks service (`create_task`: inputs
  checked, credits reserved, the `prepare` message through the outbox onto the Redis Streams
  queue); then the step consumers of template.yaml start (`scripts.local.consumers`, the local
  runtime's own threads, each receiving with `retouch.queue.consume` and calling a Powertools
  batch handler over the real `Engine`) and the clock runs until every task has ended. The
  provider is in-process and answers every submit at once with a 4×3 PNG (the scripted
  provider of the engine tests, under the key `local`): what is measured is our engine,
  queue, database and storage, not a vendor. Prepare normalises the input for real; store
  copies the result into a local storage. Runs with 1 and 2 consumer threads per step queue.
  Then the same run through the real vendor path: scripts/simulator/service.py started as its own
  process on a free loopback port with zero latency and no faults (results rendered by the
  `local` algorithms), the seed's `simulator` provider enabled at it, a `cutout` pipeline
  version whose `generate` chain is `[simulator]`, and the step functions' own provider
  source (`ConfiguredProviders` over `PROVIDER_FACTORIES`: `SimulatorProvider` over HTTP,
  first poll one second after the submit, as in production); the simulator fetches the
  inputs from the local storage's gateway routes, served by another child process
  (tests/bench/storage_server.py), and `store` fetches the result from the simulator.
  Reported: tasks/s (create → `succeeded`, and from the consumers' start), and the engine's
  CPU per task: this process's CPU time (`time.process_time`: every thread, user + system)
  while the consumers drain, divided by the tasks — the servers' CPU is not in it, the two
  children's (simulator, storage routes) is reported beside it;
* cold start: fresh interpreters alternating between `functions/steps/generate/app.py` and
  tests/bench/bare_step.py (a bare `BatchProcessor(EventType.SQS)` handler doing one Redis
  GET per record), each importing its entry file by path and handling one SQS event
  (events/generate_step_aws_sqs.json naming a task that has ended: the engine reads it and
  drops the message, the cheapest real path through a step, which still opens the database
  connection); tests/bench/invoke.py's `cold` mode, as scripts/bench/health.py.

It prints a table and a verdict against the target (cold start ≤ 2× the bare handler) and
always exits 0: it is a measurement, not a test. Results are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts.bench.health import (
    LAYER,
    ROOT,
    ColdSample,
    child_env,
    cold_start,
    layer_python,
    percentile,
)
from scripts.bench.me import sign_up
from scripts.local.servers import free_port, temporary_servers

# `python -m scripts.bench.pipeline` from the checkout: the layer is what /opt/python is.
sys.path.insert(0, str(LAYER))

STEP = ROOT / "functions" / "steps" / "generate" / "app.py"
BARE = ROOT / "tests" / "bench" / "bare_step.py"
SAMPLE_EVENT = ROOT / "events" / "generate_step_aws_sqs.json"
COLD_TARGET = 2.0
SIDES = ("step", "bare")
FEATURE = "cutout"
INPUT_SIZE = (256, 192)  # the input picture prepare normalises
PACKAGES = ("aws-lambda-powertools", "redis", "pymysql", "pydantic", "opencv-python-headless")
#: A run that has not ended this long after its last task moved is reported as stuck.
STALL_S = 60.0
#: After the drain, how long the consumers' idle CPU (empty receives) is sampled.
IDLE_S = 2.0
IN_PROCESS, SIMULATOR = "in-process, answers at once", "simulator over HTTP, zero latency"
#: The simulator's bearer key and callback secret for this run (loopback only).
SIMULATOR_KEY, SIMULATOR_SECRET = "bench-simulator-key", "bench-simulator-callback-secret"
#: Concurrency of the simulator and of our slots for it: never the limit here.
SIMULATOR_SLOTS = 10_000


@dataclass
class Run:
    """One throughput run."""

    provider: str  # IN_PROCESS or SIMULATOR
    threads: int  # consumer threads per step queue
    tasks: int
    create_s: float
    drain_s: float
    cpu_s: float
    succeeded: int
    stdout_bytes: int
    children_cpu_s: float | None = None  # the simulator's and storage routes' processes
    pending_polls: float = 0.0  # per task: polls that found the vendor's job not done yet
    idle_cpu_s: float = 0.0  # of cpu_s: the idle loops' CPU per second times the drain

    @property
    def total_s(self) -> float:
        return self.create_s + self.drain_s


@dataclass
class Setup:
    principal: Any
    upload: str
    ended_task: str = ""


def prepare(env: dict[str, str], tasks: int) -> Setup:
    """Migrate and seed, sign up a user with credits for every task, store its upload."""
    from retouch.caller.service import authenticate
    from retouch.core.db import get_database
    from retouch.core.ids import new_public_id
    from retouch.core.security import TokenConfig
    from retouch.core.settings import get_settings
    from retouch.quota.service import grant_credits
    from retouch.storage import get_storage, upload_key
    from tests.unit.image_support import png

    token = sign_up(env)
    database = get_database()
    principal = authenticate(
        database=database, config=TokenConfig.from_settings(get_settings()), access_token=token
    )
    user = principal.user
    upload = new_public_id("upl")
    key = upload_key(user_id=user.public_id, upload_id=upload)
    picture = png(*INPUT_SIZE)
    get_storage().put(key, picture, "image/png")
    with database.unit_of_work() as uow:
        grant_credits(uow=uow, user_id=user.id, amount=100 * tasks, reason="bench", ref=upload)
        uow.execute(
            "INSERT INTO uploads (public_id, user_id, object_key, content_type, declared_size, "
            "status, width, height, actual_size) VALUES (%s, %s, %s, 'image/png', %s, 'ready', "
            "%s, %s, %s)",
            (upload, user.id, key, len(picture), *INPUT_SIZE, len(picture)),
        )
        # A run has hundreds of tasks unfinished at once: lift the plan's limit on them.
        uow.execute(
            "UPDATE plans SET max_concurrent_tasks = NULL WHERE code = %s",
            (principal.membership.plan_code,),
        )
        uow.commit()
    return Setup(principal=principal, upload=upload)


def create_tasks(setup: Setup, count: int) -> list[str]:
    """`count` tasks through the tasks service; their ids."""
    from retouch.core.db import get_database
    from retouch.core.settings import get_settings
    from retouch.queue.factory import get_queue
    from retouch.tasks.schemas import TaskCreate
    from retouch.tasks.service import create_task

    request = TaskCreate(feature=FEATURE, inputs={"image": setup.upload})
    database, queue, settings = get_database(), get_queue(), get_settings()
    return [
        create_task(
            database=database,
            queue=queue,
            settings=settings,
            principal=setup.principal,
            request=request,
            idempotency_key=None,
            language="en",
        ).id
        for _ in range(count)
    ]


def step_consumers(threads: int, provider: str) -> Any:
    """The template's consumers of the step queues, `threads` per queue, each calling a
    Powertools batch handler over one shared engine (as `handle_step_event` does over
    `get_engine()`) whose provider answers at once (IN_PROCESS) or is the step functions'
    own provider source (SIMULATOR: the configured simulator over HTTP)."""
    from retouch.core.db import get_database
    from retouch.core.redis import get_redis
    from retouch.core.settings import get_settings
    from retouch.images import normalize
    from retouch.pipeline.context import HeldUntilBatchEnd
    from retouch.pipeline.engine import Engine, StepContext
    from retouch.pipeline.factories import PROVIDER_FACTORIES
    from retouch.pipeline.fetch import fetch_result
    from retouch.pipeline.sources import ConfiguredProviders, ProviderSource
    from retouch.providers.guards import ProviderGuards
    from retouch.queue.factory import get_queue
    from retouch.queue.marks import DeferredMarks
    from retouch.queue.sqs_events import process_batch
    from retouch.storage import get_storage
    from scripts.local.consumers import ConsumerThreads, queue_consumers
    from scripts.local.sam import load_template
    from tests.integration.pipeline_support import Providers, ScriptedProvider

    providers: ProviderSource = (
        ConfiguredProviders(get_database(), PROVIDER_FACTORIES)
        if provider == SIMULATOR
        else Providers(ScriptedProvider(key="local", script=()), limit=10_000)
    )
    engine = Engine(
        StepContext(
            database=get_database("steps"),  # as `bootstrap.engine.get_engine` builds it
            redis=get_redis(),
            queue=get_queue(),
            storage=get_storage(),
            providers=providers,
            guards=ProviderGuards(get_redis()),
            normalize=normalize,
            fetch=fetch_result,
            marks=DeferredMarks(),
            held=HeldUntilBatchEnd(),
        )
    )

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        try:
            return process_batch(event, lambda record: engine.handle(record.json_body), context)
        finally:
            engine.flush()

    template = load_template()
    handlers = {spec.logical_id: handler for spec in template.functions}
    consumers = [
        consumer
        for consumer in queue_consumers(template, handlers, settings=get_settings())
        if consumer.queue.name.startswith("steps-")
    ]
    return ConsumerThreads(consumers * threads, wait_s=0.2, log=lambda _line: None)


def _of_tasks(select: str, task_ids: Sequence[str], tail: str = "") -> list[Any]:
    """Rows of `select` (which names `tasks` as `t`) over the tasks `task_ids`."""
    from retouch.core.db import get_database

    placeholders = ", ".join(["%s"] * len(task_ids))
    with get_database().read_only() as uow:
        return uow.fetch_all(
            f"{select} WHERE t.public_id IN ({placeholders}){tail}",
            tuple(task_ids),
        )


def ended(task_ids: Sequence[str]) -> dict[str, int]:
    """How many of the tasks are in each status."""
    rows = _of_tasks("SELECT t.status, COUNT(*) AS n FROM tasks t", task_ids, " GROUP BY t.status")
    return {str(row["status"]): int(row["n"]) for row in rows}


def pending_polls(task_ids: Sequence[str]) -> float:
    """Polls per task that found the vendor's job still running (each one more `generate`
    message, a second later or more)."""
    (row,) = _of_tasks(
        "SELECT COALESCE(SUM(s.polls), 0) AS n FROM task_steps s JOIN tasks t ON t.id = s.task_id",
        task_ids,
    )
    return int(row["n"]) / len(task_ids)


@contextlib.contextmanager
def stdout_to(path: Path) -> Iterator[None]:
    """The engine's metrics (EMF documents) go to stdout; keep them out of the report."""
    with path.open("a") as out, contextlib.redirect_stdout(out):
        yield


def throughput_run(
    setup: Setup,
    tasks: int,
    threads: int,
    work: Path,
    provider: str = IN_PROCESS,
    children: Sequence[int] = (),
) -> Run:
    """One run; `children` are the pids of the processes serving the provider (their CPU over
    the drain is reported beside the engine's)."""
    output = (
        work / f"pipeline-{'simulator' if provider == SIMULATOR else 'in-process'}-{threads}.stdout"
    )
    print(
        f"throughput: {tasks} tasks, {threads} consumer thread(s) per step, {provider} …",
        file=sys.stderr,
    )
    with stdout_to(output):
        started = time.perf_counter()
        task_ids = create_tasks(setup, tasks)
        created = time.perf_counter()
        consumers = step_consumers(threads, provider)
        cpu_before, drain_started = time.process_time(), time.perf_counter()
        children_before = sum(process_cpu_s(pid) for pid in children)
        consumers.start()
        try:
            done, last_change, statuses = 0, time.monotonic(), {}
            while done < tasks and time.monotonic() - last_change < STALL_S:
                time.sleep(0.05)
                statuses = ended(task_ids)
                now_done = sum(statuses.get(s, 0) for s in ("succeeded", "failed", "canceled"))
                if now_done != done:
                    done, last_change = now_done, time.monotonic()
            drained = time.perf_counter()
            cpu_s = time.process_time() - cpu_before
            children_cpu_s = sum(process_cpu_s(pid) for pid in children) - children_before
            # The same loops with nothing left to do: the consumers' empty receives and this
            # watch, a cost per second of the drain rather than per task.
            idle_before, idle_started = time.process_time(), time.perf_counter()
            while time.perf_counter() - idle_started < IDLE_S:
                time.sleep(0.05)
                ended(task_ids)
            idle_cpu_per_s = (time.process_time() - idle_before) / (
                time.perf_counter() - idle_started
            )
        finally:
            consumers.stop()
    if done < tasks:
        print(f"  stuck: {statuses}", file=sys.stderr)
    setup.ended_task = setup.ended_task or task_ids[0]
    return Run(
        provider=provider,
        threads=threads,
        tasks=tasks,
        create_s=created - started,
        drain_s=drained - drain_started,
        cpu_s=cpu_s,
        succeeded=statuses.get("succeeded", 0),
        stdout_bytes=output.stat().st_size,
        children_cpu_s=children_cpu_s if children else None,
        pending_polls=pending_polls(task_ids),
        idle_cpu_s=idle_cpu_per_s * (drained - drain_started),
    )


def process_cpu_s(pid: int) -> float:
    """User + system CPU time of process `pid` so far (Linux: /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def child_server(arguments: list[str], port: int, env: dict[str, str], log: Path) -> Iterator[int]:
    """`python -m <arguments>` from the checkout, serving 127.0.0.1:`port`, its output in
    `log`; its pid once the port answers. Stopped (SIGTERM, then SIGKILL) on the way out."""
    with log.open("ab") as out:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and modules
            [sys.executable, "-m", *arguments], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{arguments[0]} did not start on port {port}; see {log}")
            time.sleep(0.05)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def vendor_path(
    env: dict[str, str], simulator_port: int, storage_port: int, work: Path
) -> Iterator[list[int]]:
    """The simulator (zero latency, no faults) and the storage routes it fetches inputs from,
    each in its own process; the seed's `simulator` row enabled at it, and `cutout`'s current
    pipeline a version whose `generate` chain is `[simulator]`. Yields the two pids."""
    from retouch.catalog.repository import MySQLProviderRepository
    from retouch.catalog.service import add_pipeline_version
    from retouch.core.db import get_database

    simulator = [
        "scripts.simulator",
        f"--port={simulator_port}",
        "--latency-ms=0..0",
        f"--concurrency={SIMULATOR_SLOTS}",
        f"--api-key={SIMULATOR_KEY}",
        f"--callback-secret={SIMULATOR_SECRET}",
    ]
    with (
        child_server(
            ["tests.bench.storage_server", str(storage_port)],
            storage_port,
            env,
            work / "storage-server.log",
        ) as a,
        child_server(simulator, simulator_port, env, work / "simulator.log") as b,
    ):
        database = get_database()
        with database.unit_of_work() as uow:
            providers = MySQLProviderRepository(uow)
            seeded = providers.get("simulator")
            if seeded is None:
                raise RuntimeError("the seed has no `simulator` provider")
            providers.upsert(
                seeded.model_copy(
                    update={
                        "endpoint": f"http://127.0.0.1:{simulator_port}",
                        "enabled": True,
                        "concurrency_limit": SIMULATOR_SLOTS,
                    }
                )
            )
            uow.commit()
        steps = [{"step": "prepare"}, {"step": "generate", "providers": ["simulator"]}]
        add_pipeline_version(
            database=database,
            feature_key=FEATURE,
            steps=[*steps, {"step": "store"}],
            created_by=None,
            make_current=True,
        )
        yield [a, b]


def cold_event(task_id: str, work: Path) -> Path:
    """The sample `generate` SQS event, naming `task_id`."""
    event = json.loads(SAMPLE_EVENT.read_text())
    body = json.loads(event["Records"][0]["body"])
    event["Records"][0]["body"] = json.dumps({**body, "task_id": task_id}, separators=(",", ":"))
    path = work / "generate-event.json"
    path.write_text(json.dumps(event))
    return path


def measure_cold(
    runs: int, event: Path, work: Path, env: dict[str, str]
) -> dict[str, list[ColdSample]]:
    files = {"step": STEP, "bare": BARE}
    # Both sides start in an interpreter holding only the layer's dependencies.
    env = {**env, "BENCH_PYTHON": layer_python()}
    for side in SIDES:  # discarded: writes the .pyc files, warms the page cache
        cold_start(side, files[side], event, work, env)
    print(f"cold start: {runs} fresh interpreters per side …", file=sys.stderr)
    samples: dict[str, list[ColdSample]] = {side: [] for side in SIDES}
    for run in range(runs):
        for side in SIDES if run % 2 == 0 else SIDES[::-1]:
            samples[side].append(cold_start(side, files[side], event, work, env))
    return samples


def _cells(*cells: str) -> str:
    return "| " + " | ".join(cells) + " |"


def report(runs: Sequence[Run], cold: dict[str, list[ColdSample]], args: argparse.Namespace) -> str:
    lines = [
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        ", ".join(f"{name} {importlib.metadata.version(name)}" for name in PACKAGES),
        f"throughput: {args.tasks} `{FEATURE}` tasks per run ({INPUT_SIZE[0]}×{INPUT_SIZE[1]} "
        "PNG input), Redis Streams queue, template.yaml's step consumers; provider: in-process "
        "(a 4×3 PNG at once) or scripts/simulator/service.py in its own process (zero latency, no "
        "faults, `local` algorithms; first poll 1 s after the submit)",
        "",
        _cells(
            "provider",
            "consumer threads per step",
            "tasks",
            "succeeded",
            "create (service)",
            "create → succeeded",
            "consumers → all ended",
            "engine CPU per task",
            "… of which idle loops",
            "simulator + storage CPU per task",
            "pending polls per task",
            "stdout per task",
        ),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for run in runs:
        children = (
            "—" if run.children_cpu_s is None else f"{run.children_cpu_s / run.tasks * 1000:.1f} ms"
        )
        lines.append(
            _cells(
                run.provider,
                str(run.threads),
                str(run.tasks),
                str(run.succeeded),
                f"{run.tasks / run.create_s:.0f} tasks/s",
                f"{run.tasks / run.total_s:.1f} tasks/s",
                f"{run.tasks / run.drain_s:.1f} tasks/s",
                f"{run.cpu_s / run.tasks * 1000:.1f} ms",
                f"{run.idle_cpu_s / run.tasks * 1000:.1f} ms",
                children,
                f"{run.pending_polls:.2f}",
                f"{run.stdout_bytes / run.tasks:.0f} B",
            )
        )
    in_process = [run for run in runs if run.provider == IN_PROCESS]
    if len(in_process) > 1:
        first, last = in_process[0], in_process[-1]
        lines.append(
            f"\n{last.threads} vs {first.threads} thread(s), in-process: throughput "
            f"{first.drain_s / last.drain_s:.2f}×, CPU per task {last.cpu_s / first.cpu_s:.2f}×"
        )
    simulated = [run for run in runs if run.provider == SIMULATOR]
    same = [run for run in in_process if simulated and run.threads == simulated[0].threads]
    if same:
        over_http, at_once = simulated[0], same[0]
        lines.append(
            f"simulator vs in-process, {over_http.threads} thread(s): throughput (create → "
            f"succeeded) {at_once.total_s / over_http.total_s:.2f}×, engine CPU per task "
            f"{over_http.cpu_s / at_once.cpu_s:.2f}×"
        )

    def stat(side: str, attribute: str, q: float | None = None) -> float:
        values = [getattr(sample, attribute) for sample in cold[side]]
        return statistics.median(values) if q is None else percentile(values, q)

    lines += [
        "",
        f"cold: {args.cold_runs} fresh interpreters per side, alternating; event: one SQS "
        "record, a `generate` message for an ended task",
        "",
        _cells("metric", "generate step", "bare Powertools batch", "ratio", "target", "result"),
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    verdict = ""
    for label, attribute, q, target in (
        ("import → first event handled, median", "import_to_response_ms", None, COLD_TARGET),
        ("import → first event handled, p90", "import_to_response_ms", 90, None),
        ("… of which import, median", "import_ms", None, None),
        ("… of which first event, median", "invoke_ms", None, None),
        ("interpreter start → first event handled, median", "process_ms", None, None),
    ):
        ours, bare = stat("step", attribute, q), stat("bare", attribute, q)
        ratio = ours / bare
        judged = ["", ""]
        if target is not None:
            passed = ratio <= target
            judged = [f"≤ {target:g}×", "pass" if passed else "FAIL"]
            verdict = f"{'PASS' if passed else 'FAIL'} — cold start {ratio:.2f}× (≤ {target:g}×)"
        lines.append(
            _cells(f"cold: {label}", f"{ours:.1f} ms", f"{bare:.1f} ms", f"{ratio:.2f}×", *judged)
        )
    lines += ["", f"verdict: {verdict}"]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=500, help="tasks per throughput run")
    parser.add_argument(
        "--threads", type=int, nargs="+", default=[1, 2], help="consumer threads per step queue"
    )
    parser.add_argument(
        "--simulator-threads",
        type=int,
        default=1,
        help="consumer threads per step queue of the run through the simulator",
    )
    parser.add_argument("--cold-runs", type=int, default=20, help="fresh interpreters per side")
    args = parser.parse_args(argv)
    if min(args.tasks, args.cold_runs, args.simulator_threads, *args.threads) < 1:
        parser.error("counts must be positive")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    simulator_port, storage_port = free_port(), free_port()
    with temporary_servers("retouch-bench-pipeline-") as (mariadb, redis, work):
        env = child_env({**mariadb.env(), **redis.env()})
        env["RETOUCH_STORAGE_LOCAL_ROOT"] = str(work / "objects")
        env["RETOUCH_STORAGE_LOCAL_SIGNING_KEY"] = "b" * 40
        env["RETOUCH_STORAGE_LOCAL_BASE_URL"] = f"http://127.0.0.1:{storage_port}/_storage"
        env["RETOUCH_SIMULATOR_API_KEY"] = SIMULATOR_KEY
        env["RETOUCH_SIMULATOR_CALLBACK_SECRET"] = SIMULATOR_SECRET
        # the simulator is a loopback http vendor: allowed here as on the local stack
        env["RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK"] = "true"
        setup = prepare(env, args.tasks * (len(args.threads) + 1))
        runs = [throughput_run(setup, args.tasks, threads, work) for threads in args.threads]
        with vendor_path(env, simulator_port, storage_port, work) as children:
            runs.append(
                throughput_run(setup, args.tasks, args.simulator_threads, work, SIMULATOR, children)
            )
        cold = measure_cold(args.cold_runs, cold_event(setup.ended_task, work), work, env)
    print(report(runs, cold, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
