"""Benchmark: the cold start and the memory of every function, each beside its bare baseline.

    .venv/bin/python -m scripts.bench.coldstart [--rounds 7] [--memory-calls 1000] \
        [--only http/health steps/prepare ...] [--before PATH]

Starts a private MariaDB and Redis in a temporary folder (like the other benchmarks), migrates
and seeds them, registers the users the sample events need and creates `cutout` tasks on a
real 256×192 PNG upload (as scripts/bench/pipeline.py does), then measures every function of
`functions/` (http/*, jobs/*, steps/*, triggers/*):

* cold start, whole process: in each round, for every function, one fresh interpreter
  importing its `app.py` by path and answering its sample event (events/, the first response),
  and one doing the same for its bare baseline, the order of the pair alternating each round;
  one discarded round first writes the `.pyc` files. Baselines: tests/bench/bare_app.py (a
  bare FastAPI+Mangum app, one Redis GET, its own `GET /health/redis`) for the API functions,
  tests/bench/bare_step.py (a bare Powertools batch handler, one Redis GET per record) for
  the steps, tests/bench/bare_job.py (a bare Powertools handler with Logger and Metrics) for
  the jobs and the trigger, each on the function's own event. Reported per function: the
  median of the pairs' interpreter start → first response, ours ÷ bare (the target: ≤ 1.25×
  for an API function, ≤ 2× for the others), the import alone, and the child's CPU time
  (user + system, ours ÷ bare: on a loaded machine the steadier figure). With `--before PATH` (a
  checkout of an earlier commit, e.g. `git worktree add PATH <commit>`), each round also runs
  that tree's function (its `functions/` and its layer) in the same interpreter on the same
  event, the three sides in a rotating order, and the table adds its median and ours ÷ before;
* import time: one `python -X importtime` of each `app.py`, the sum of the modules' own times
  and the packages that weigh most;
* memory: one fresh interpreter per function answering its event (the steps: one message per
  task, each a real task, so `prepare` normalises the picture with OpenCV and `generate`
  renders it with the `local` provider) `--memory-calls` times; resident memory after the
  100th and the last call, and the peak (`VmHWM`). The targets: peak ≤ 128 MiB for an API
  function, ≤ 384 MiB for a step loading OpenCV, no growth after the warm-up.

Each function runs in an interpreter holding what its package ships: the layer's lock
(`requirements/layer.txt`) plus the function's own requirements (OpenCV for `prepare` and
`generate`, yoyo for `migrate`), built once under `.local/` (the dev virtualenv holds test
tools that would be imported when present). The sample events are the repository's, with the
access-token placeholders replaced by real tokens; `migrate` gets the direct invoke `{}` (the
custom-resource request answers on a URL). The steps' cold start takes the sample message,
which names no task: the engine opens its connection, finds nothing and drops it — the
cheapest real path; `auth`'s cold start a refresh with an unknown token (401), since its
sample, a sign-up, hashes a password by design (its memory run keeps the sign-up). It prints
the tables and always exits 0: a measurement, not a test.
Results are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.bench.health import (
    LAYER,
    ROOT,
    ColdSample,
    _run_child,
    child_env,
    load_event,
)
from scripts.local.servers import temporary_servers

sys.path.insert(0, str(LAYER))

FUNCTIONS = ROOT / "functions"
EVENTS = ROOT / "events"
BENCH = ROOT / "tests" / "bench"
BARES = {
    "http": BENCH / "bare_app.py",
    "steps": BENCH / "bare_step.py",
    "jobs": BENCH / "bare_job.py",
    "triggers": BENCH / "bare_job.py",
}
COLD_TARGETS = {"http": 1.25, "steps": 2.0, "jobs": 2.0, "triggers": 2.0}
MiB = 1024
RSS_TARGETS = {"http": 128 * MiB, "opencv": 384 * MiB}
#: Steps that load OpenCV on their path (the other steps never import it).
OPENCV_STEPS = ("prepare", "generate")
#: Calls per memory run where each is slow (a whole backup, restore or migration, Argon2, the
#: alert rules, the rollups, the `local` renderer): at most these, so a run stays in minutes.
FEWER_CALLS = {
    "jobs/backup": 30,
    "jobs/backup_verify": 30,
    "jobs/migrate": 30,
    "http/auth": 200,
    "jobs/monitor": 200,
    "jobs/rollup": 200,
    "steps/generate": 500,
}
#: `-X importtime` runs per function; the one with the median total is reported.
IMPORT_RUNS = 3
PARTS = ("cold", "imports", "memory")
#: Steps in pipeline order: the memory runs take each task through them in turn.
STEP_ORDER = ("prepare", "generate", "store", "finalize")


@dataclass(frozen=True)
class Function:
    """One function of `functions/`: `kind` is its folder (http, jobs, steps, triggers)."""

    kind: str
    name: str

    @property
    def label(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def app(self) -> Path:
        return FUNCTIONS / self.kind / self.name / "app.py"

    @property
    def bare(self) -> Path:
        return BARES[self.kind]

    @property
    def extra_requirements(self) -> tuple[Path, ...]:
        own = FUNCTIONS / self.kind / self.name / "requirements.txt"
        if self.label == "jobs/migrate":
            return (ROOT / "requirements" / "migrate.txt",)
        return (own,) if own.exists() else ()

    def sample_event(self) -> dict[str, Any]:
        if self.label == "jobs/migrate":
            return {}
        suffix = {
            "http": "_aws_rest",
            "jobs": "_aws_schedule",
            "steps": "_step_aws_sqs",
            "triggers": "_trigger_aws_s3",
        }[self.kind]
        event: dict[str, Any] = json.loads((EVENTS / f"{self.name}{suffix}.json").read_text())
        return event

    def first_request(self) -> dict[str, Any]:
        """The event of a cold start: the sample, but for `auth`, whose sample (a sign-up of a
        known address) hashes a password by design (Argon2, ≈ 0.1 s of CPU, the same for a
        new address), a refresh with an unknown token: the cheap path every client takes."""
        event = self.sample_event()
        if self.label == "http/auth":
            event = {**event, "resource": "/v1/auth/refresh", "path": "/v1/auth/refresh"}
            event["body"] = json.dumps({"refresh_token": "bench-unknown-refresh-token-0123456789"})
        return event


def discover(only: Sequence[str]) -> list[Function]:
    """Every function with an `app.py`, in a stable order (backup before its verify)."""
    found = [
        Function(path.parent.parent.name, path.parent.name)
        for path in sorted(FUNCTIONS.glob("*/*/app.py"))
    ]
    return [f for f in found if not only or f.label in only]


def runtime_python(extra: Sequence[Path]) -> str:
    """An interpreter holding the layer's lock plus `extra` lock files, as the function's
    package has them; built once under .local/ (rebuilt when a lock changes)."""
    locks = [ROOT / "requirements" / "layer.txt", *extra]
    digest = hashlib.sha256(b"".join(lock.read_bytes() for lock in locks)).hexdigest()
    venv = ROOT / ".local" / f"bench-runtime-{digest[:12]}"
    python = venv / "bin" / "python"
    if not (venv / ".complete").exists():
        print(f"building {venv.name} ({', '.join(p.name for p in locks)}) …", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)  # noqa: S603
        requirements = [arg for lock in locks for arg in ("-r", str(lock))]
        subprocess.run([str(python), "-m", "pip", "install", "-q", *requirements], check=True)  # noqa: S603
        (venv / ".complete").write_text(digest)
    return str(python)


@dataclass
class Measured:
    """Everything measured of one function."""

    function: Function
    ours: list[ColdSample] = field(default_factory=list)
    bare: list[ColdSample] = field(default_factory=list)
    before: list[ColdSample] = field(default_factory=list)
    cpu_ms: dict[str, list[float]] = field(default_factory=dict)  # per side
    statuses: Counter[int] = field(default_factory=Counter)
    imports: dict[str, Any] = field(default_factory=dict)
    memory: dict[str, Any] = field(default_factory=dict)
    bare_memory: dict[str, Any] = field(default_factory=dict)


def cold_sample(
    app: Path, event: Path, work: Path, env: dict[str, str]
) -> tuple[ColdSample, int, float]:
    """One fresh interpreter importing `app` and answering `event`; a 5xx aborts the run. Also
    the child's CPU time (user + system, start to exit, ms): on a loaded machine the wall
    clock measures the queue for a core as much as the work, the CPU time far less."""
    result_file = work / "cold.json"
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    spawned_ns = _run_child(
        ["cold", str(app), str(event), str(result_file)], env, work / "cold.out"
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms = 1000 * (after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime)
    result = json.loads(result_file.read_text())
    if result["status"] >= 500:
        raise RuntimeError(f"{app}: cold invocation answered {result['status']}: {result['body']}")
    sample = ColdSample(
        import_ms=(result["imported_ns"] - result["import_started_ns"]) / 1e6,
        invoke_ms=(result["answered_ns"] - result["imported_ns"]) / 1e6,
        process_ms=(result["answered_ns"] - spawned_ns) / 1e6,
    )
    return sample, int(result["status"]), cpu_ms


@dataclass(frozen=True)
class Prepared:
    """What the children need: each function's interpreter, event files and step events."""

    env: dict[str, str]
    pythons: dict[str, str]
    events: dict[str, Path]
    bare_events: dict[str, Path]
    step_events: dict[str, Path]
    work: Path
    cold_events: dict[str, Path]
    before: Path | None = None


def measure_cold(measured: list[Measured], setup: Prepared, rounds: int) -> None:
    """`rounds` interleaved rounds (one discarded first) over every function, its bare and,
    with `--before`, the earlier tree's function; the order of the sides rotates each round."""
    for round_number in range(rounds + 1):
        print(f"cold start: round {round_number}/{rounds} …", file=sys.stderr)
        for entry in measured:
            sides = _cold_sides(entry, setup)
            shift = round_number % len(sides)
            for side, app, event, env in sides[shift:] + sides[:shift]:
                sample, status, cpu_ms = cold_sample(app, event, setup.work, env)
                if round_number == 0:
                    continue  # writes the .pyc files and warms the page cache
                getattr(entry, side).append(sample)
                entry.cpu_ms.setdefault(side, []).append(cpu_ms)
                if side == "ours":
                    entry.statuses[status] += 1


def _cold_sides(entry: Measured, setup: Prepared) -> list[tuple[str, Path, Path, dict[str, str]]]:
    """(side, entry file, event, environment) of each side of a function's round."""
    label = entry.function.label
    env = {**setup.env, "BENCH_PYTHON": setup.pythons[label]}
    sides = [
        ("ours", entry.function.app, setup.cold_events[label], env),
        ("bare", entry.function.bare, setup.bare_events[label], env),
    ]
    if setup.before is not None:
        earlier = setup.before / entry.function.app.relative_to(ROOT)
        layer = str(setup.before / LAYER.relative_to(ROOT))
        sides.append(("before", earlier, setup.cold_events[label], {**env, "PYTHONPATH": layer}))
    return sides


_IMPORT_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)")


def import_profile(app: Path, python: str, env: dict[str, str]) -> dict[str, Any]:
    """`-X importtime` of importing `app` by path, IMPORT_RUNS times: of the run with the
    median total, the sum of self times and the heaviest packages (top-level package;
    `retouch.<package>` for ours), in ms."""
    runs = sorted(
        (_import_run(app, python, env) for _ in range(IMPORT_RUNS)),
        key=lambda packages: sum(packages.values()),
    )
    packages = runs[len(runs) // 2]
    return {
        "total_ms": sum(packages.values()) / 1000,
        "top": [(name, us / 1000) for name, us in packages.most_common(5)],
    }


def _import_run(app: Path, python: str, env: dict[str, str]) -> Counter[str]:
    """One `-X importtime` run: self time (µs) per package."""
    load = (
        "import importlib.util, sys; "
        "spec = importlib.util.spec_from_file_location('app', sys.argv[1]); "
        "spec.loader.exec_module(importlib.util.module_from_spec(spec))"
    )
    completed = subprocess.run(  # noqa: S603 - our own interpreter and file
        [python, "-X", "importtime", "-c", load, str(app)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    packages: Counter[str] = Counter()
    for match in _IMPORT_LINE.finditer(completed.stderr):
        parts = match[4].split(".")
        packages[".".join(parts[:2]) if parts[0] == "retouch" else parts[0]] += int(match[1])
    return packages


def measure_memory(
    app: Path, events: Path, calls: int, python: str, setup: Prepared
) -> dict[str, Any]:
    """tests/bench/invoke.py's memory mode: `calls` calls on `events` in a fresh interpreter."""
    result_file = setup.work / "memory.json"
    env = {**setup.env, "BENCH_PYTHON": python}
    arguments = ["memory", str(app), str(events), str(result_file), str(calls)]
    _run_child(arguments, env, setup.work / "memory.out")
    result: dict[str, Any] = json.loads(result_file.read_text())
    return result


def memory_events(entry: Measured, setup: Prepared) -> Path:
    """The events of a memory run: a step's one message per real task, else the sample."""
    function = entry.function
    if function.kind == "steps":
        return setup.step_events[function.name]
    path = setup.work / f"memory-{function.kind}-{function.name}.json"
    path.write_text(json.dumps([json.loads(setup.events[function.label].read_text())]))
    return path


def measure_all_memory(measured: list[Measured], setup: Prepared, calls: int) -> None:
    """Every function, the steps in pipeline order (each task goes through them in turn), and
    each kind's bare baseline once."""
    order = sorted(measured, key=_memory_order)
    bares: dict[Path, dict[str, Any]] = {}
    for entry in order:
        label = entry.function.label
        count = min(calls, FEWER_CALLS.get(label, calls))
        print(f"memory: {label}, {count} calls …", file=sys.stderr)
        python = setup.pythons[label]
        entry.memory = measure_memory(
            entry.function.app, memory_events(entry, setup), count, python, setup
        )
        bare = entry.function.bare
        if bare not in bares:
            events = setup.work / f"memory-bare-{bare.stem}.json"
            events.write_text(json.dumps([json.loads(setup.bare_events[label].read_text())]))
            bares[bare] = measure_memory(bare, events, calls, python, setup)
        entry.bare_memory = bares[bare]


def _memory_order(entry: Measured) -> tuple[int, int]:
    """The steps first, in pipeline order (before the reaper's runs), then the others."""
    function = entry.function
    if function.kind == "steps":
        return (0, STEP_ORDER.index(function.name))
    return (1, 0)


def step_events(task_ids: Sequence[str], work: Path) -> dict[str, Path]:
    """Per step, one SQS event per task (the sample's shape), each its own message id."""
    paths = {}
    for step in STEP_ORDER:
        sample = Function("steps", step).sample_event()
        events = []
        for number, task_id in enumerate(task_ids):
            record = json.loads(json.dumps(sample["Records"][0]))
            body = {**json.loads(record["body"]), "task_id": task_id}  # finalize's outcome
            record["body"] = json.dumps(body, separators=(",", ":"))
            record["messageId"] = f"bench-{step}-{number}"
            record["messageAttributes"]["retouch-id"]["stringValue"] = f"{step}{number:027d}"
            events.append({"Records": [record]})
        paths[step] = work / f"memory-steps-{step}.json"
        paths[step].write_text(json.dumps(events))
    return paths


def lift_plan_limits() -> None:
    """No plan limit on unfinished tasks in the run's database: one user holds them all."""
    from retouch.core.db import get_database

    with get_database().unit_of_work() as uow:
        uow.execute("UPDATE plans SET max_concurrent_tasks = NULL")
        uow.commit()


def prepare(functions: Sequence[Function], env: dict[str, str], work: Path, tasks: int) -> Prepared:
    """Migrate and seed, register the users the events name, create `tasks` real tasks, and
    write every event file; build the interpreters."""
    from retouch.bootstrap.clients import reset_clients
    from scripts.bench.pipeline import create_tasks
    from scripts.bench.pipeline import prepare as prepare_pipeline
    from tests.integration.operations.sample_events_support import with_access_token

    # migrates, seeds, signs up, stores one PNG upload
    setup = prepare_pipeline(env, max(tasks, 1))
    lift_plan_limits()
    task_ids = create_tasks(setup, tasks) if any(f.kind == "steps" for f in functions) else []
    events, bare_events, cold_events, pythons = {}, {}, {}, {}
    health_event = work / "bare-http.json"
    health_event.write_text(json.dumps(load_event()[0]))
    for function in functions:
        label = function.label
        events[label] = work / f"event-{function.kind}-{function.name}.json"
        events[label].write_text(json.dumps(with_access_token(function.sample_event())))
        bare_events[label] = health_event if function.kind == "http" else events[label]
        cold_events[label] = work / f"cold-{function.kind}-{function.name}.json"
        cold_events[label].write_text(json.dumps(with_access_token(function.first_request())))
        pythons[label] = runtime_python(function.extra_requirements)
    reset_clients()
    steps = step_events(task_ids, work)
    return Prepared(env, pythons, events, bare_events, steps, work, cold_events)


def task_outcomes() -> dict[str, int]:
    """The tasks' and their steps' statuses after the runs (how far the memory runs took
    them)."""
    from retouch.core.db import get_database

    with get_database().unit_of_work() as uow:
        rows = uow.fetch_all(
            "SELECT 'task' AS step, status, COUNT(*) AS n FROM tasks GROUP BY status "
            "UNION ALL SELECT step, status, COUNT(*) FROM task_steps GROUP BY step, status"
        )
    return {f"{row['step']} {row['status']}": int(row["n"]) for row in rows}


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(cell) for cell in cells) + " |"


def _median(samples: Sequence[ColdSample], attribute: str) -> float:
    return float(statistics.median(getattr(sample, attribute) for sample in samples))


def cold_table(measured: Sequence[Measured]) -> list[str]:
    lines = [
        _row(
            "function",
            "baseline",
            "start → first response",
            "bare",
            "ratio",
            "target",
            "result",
            "import",
            "bare import",
            "import ratio",
            "CPU ratio",
            "first response",
        ),
        _row(*["---", "---"], *["---:"] * 3, "---", "---", *["---:"] * 4, "---"),
    ]
    for entry in measured:
        function = entry.function
        ours, bare = (_median(s, "process_ms") for s in (entry.ours, entry.bare))
        ours_import, bare_import = (_median(s, "import_ms") for s in (entry.ours, entry.bare))
        target = COLD_TARGETS[function.kind]
        statuses = ", ".join(f"{status} ×{n}" for status, n in sorted(entry.statuses.items()))
        lines.append(
            _row(
                function.label,
                function.bare.stem,
                f"{ours:.1f} ms",
                f"{bare:.1f} ms",
                f"{ours / bare:.2f}×",
                f"≤ {target}×",
                "pass" if ours / bare <= target else "MISS",
                f"{ours_import:.1f} ms",
                f"{bare_import:.1f} ms",
                f"{ours_import / bare_import:.2f}×",
                f"{_cpu(entry, 'ours') / _cpu(entry, 'bare'):.2f}×",
                statuses,
            )
        )
    return lines


def _cpu(entry: Measured, side: str) -> float:
    return float(statistics.median(entry.cpu_ms[side]))


def before_table(measured: Sequence[Measured]) -> list[str]:
    """With `--before`: the earlier tree beside ours and the bare, medians of the same rounds."""
    lines = [
        _row(
            "function",
            "before ÷ bare",
            "ours ÷ bare",
            "start → first response, before",
            "ours",
            "ours ÷ before",
            "import, before",
            "ours",
            "ours ÷ before",
            "CPU, before",
            "ours",
            "ours ÷ before",
        ),
        _row("---", *["---:"] * 11),
    ]
    for entry in measured:
        before, ours, bare = (
            _median(s, "process_ms") for s in (entry.before, entry.ours, entry.bare)
        )
        before_import, ours_import = (_median(s, "import_ms") for s in (entry.before, entry.ours))
        lines.append(
            _row(
                entry.function.label,
                f"{before / bare:.2f}×",
                f"{ours / bare:.2f}×",
                f"{before:.1f} ms",
                f"{ours:.1f} ms",
                f"{ours / before:.2f}×",
                f"{before_import:.1f} ms",
                f"{ours_import:.1f} ms",
                f"{ours_import / before_import:.2f}×",
                f"{_cpu(entry, 'before'):.0f} ms",
                f"{_cpu(entry, 'ours'):.0f} ms",
                f"{_cpu(entry, 'ours') / _cpu(entry, 'before'):.2f}×",
            )
        )
    return lines


def import_table(measured: Sequence[Measured], bares: dict[str, dict[str, Any]]) -> list[str]:
    lines = [_row("module", "sum of self times", "heaviest (self ms)"), _row("---", "---:", "---")]
    rows = [(e.function.label, e.imports) for e in measured] + sorted(bares.items())
    for label, profile in rows:
        top = ", ".join(f"{name} {ms:.0f}" for name, ms in profile["top"])
        lines.append(_row(label, f"{profile['total_ms']:.0f} ms", top))
    return lines


def _rss_target(function: Function) -> int | None:
    if function.kind == "http":
        return RSS_TARGETS["http"]
    return RSS_TARGETS["opencv"] if function.name in OPENCV_STEPS else None


def memory_table(measured: Sequence[Measured]) -> list[str]:
    lines = [
        _row(
            "function",
            "calls",
            "RSS after 100",
            "RSS after last",
            "growth 100 → last",
            "peak RSS",
            "bare peak",
            "target",
            "result",
            "statuses",
            "ms per call",
        ),
        _row("---", *["---:"] * 6, "---", "---", "---", "---:"),
    ]
    for entry in measured:
        result, bare = entry.memory, entry.bare_memory
        resident = {int(call): kib for call, kib in result["resident_kib"].items()}
        calls = max(resident)
        after_100, last = resident[min(100, calls)], resident[calls]
        target = _rss_target(entry.function)
        passed = target is None or (result["peak_kib"] <= target and last - after_100 < MiB)
        statuses = ", ".join(f"{s} ×{n}" for s, n in sorted(result["statuses"].items()))
        lines.append(
            _row(
                entry.function.label,
                calls,
                f"{after_100 / MiB:.1f} MiB",
                f"{last / MiB:.1f} MiB",
                f"{(last - after_100) / MiB:+.1f} MiB",
                f"{result['peak_kib'] / MiB:.1f} MiB",
                f"{bare['peak_kib'] / MiB:.1f} MiB",
                f"≤ {target // MiB} MiB" if target else "",
                "pass" if passed else "MISS",
                statuses,
                f"{1000 * result['seconds'] / calls:.1f}",
            )
        )
    return lines


def report(
    measured: Sequence[Measured],
    bares: dict[str, dict[str, Any]],
    outcomes: dict[str, int],
    args: argparse.Namespace,
) -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    fewer = ", ".join(f"{label} {calls}" for label, calls in FEWER_CALLS.items())
    answers = [
        f"- {entry.function.label}: `{entry.memory['last']}`"
        for entry in measured
        if entry.function.kind != "http" and entry.memory
    ]
    return "\n".join(
        [
            f"python {platform.python_version()} (children: each function's runtime "
            f"interpreter, {sys.version_info.major}.{sys.version_info.minor} here) on "
            f"{platform.machine()}, {os.cpu_count()} CPUs, load average {load}",
            f"cold: {args.rounds} interleaved rounds (+1 discarded), medians; memory: "
            f"{args.memory_calls} calls per function (at most: {fewer})",
            "",
            *([*cold_table(measured), ""] if "cold" in args.parts else []),
            *([*before_table(measured), ""] if "cold" in args.parts and args.before else []),
            *([*import_table(measured, bares), ""] if "imports" in args.parts else []),
            *([*memory_table(measured), ""] if "memory" in args.parts else []),
            *(
                ["last answer of each memory run (jobs, steps, trigger):", *answers, ""]
                if "memory" in args.parts
                else []
            ),
            "tasks after the runs: "
            + ", ".join(f"{status} {n}" for status, n in sorted(outcomes.items())),
        ]
    )


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=7, help="cold starts per function")
    parser.add_argument("--memory-calls", type=int, default=1000, help="warm calls per function")
    parser.add_argument("--only", nargs="*", default=[], help="functions, e.g. http/health")
    parser.add_argument(
        "--parts", nargs="*", choices=PARTS, default=list(PARTS), help="what to measure"
    )
    parser.add_argument(
        "--before", type=Path, help="a checkout of an earlier commit, measured beside ours"
    )
    args = parser.parse_args(argv)
    if min(args.rounds, args.memory_calls) < 1:
        parser.error("counts must be positive")
    return args


def bench_env(servers: dict[str, str], work: Path) -> dict[str, str]:
    """health.child_env, every rate limit out of the way, objects in the run's folder, the
    events' access tokens valid for the whole run."""
    env = child_env(servers)
    for limit in (
        "PER_IP_PER_MIN",
        "REGISTER_PER_IP_PER_HOUR",
        "REGISTER_PER_NETWORK_PER_HOUR",
        "REGISTER_GLOBAL_PER_MIN",
        "TASKS_PER_USER_PER_MIN",
    ):
        env[f"RETOUCH_RATE_LIMIT_{limit}"] = "1000000"
    env["RETOUCH_STORAGE_LOCAL_ROOT"] = str(work / "objects")
    # A run on a busy machine outlasts the default 15 minutes of an access token.
    env["RETOUCH_ACCESS_TOKEN_TTL_S"] = "86400"  # noqa: S105 - a lifetime, not a secret
    env["RETOUCH_TASK_DEADLINE_S"] = "86400"  # nor may the reaper's runs end the tasks
    env["RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK"] = "true"
    # The backups sign their manifests (read as env:RETOUCH_SECRET_BACKUP_SIGNING_KEYS).
    env["RETOUCH_SECRET_BACKUP_SIGNING_KEYS"] = json.dumps({"bench-1": "k" * 32})
    return env


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    functions = discover(args.only)
    with temporary_servers("retouch-coldstart-") as (mariadb, redis, work):
        env = bench_env({**mariadb.env(), **redis.env()}, work)
        tasks = args.memory_calls if "memory" in args.parts else 0
        setup = prepare(functions, env, work, tasks)
        if args.before:
            setup = dataclasses.replace(setup, before=args.before.resolve())
        measured = [Measured(function) for function in functions]
        if "cold" in args.parts:
            measure_cold(measured, setup, args.rounds)
        bares: dict[str, dict[str, Any]] = {}
        if "imports" in args.parts:
            print("import time …", file=sys.stderr)
            for entry in measured:
                python = setup.pythons[entry.function.label]
                entry.imports = import_profile(entry.function.app, python, env)
                bare = f"{entry.function.bare.stem} (baseline)"
                bares.setdefault(bare, import_profile(entry.function.bare, python, env))
        if "memory" in args.parts:
            measure_all_memory(measured, setup, args.memory_calls)
        outcomes = task_outcomes()
    print(report(measured, bares, outcomes, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
