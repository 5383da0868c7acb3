"""Benchmark: the engine's tasks/s and CPU per task with P consumer processes, as deployed.

    .venv/bin/python -m scripts.bench.engine_processes [--tasks 300] [--processes 1 2 N] \
        [--rounds 2]

On Lambda and SCF every step function instance is a process of its own, and instances scale
out; one process is what `engine_profile` drains. Here the same drain runs in P processes at
once, each with its own MariaDB and Redis connections, each consuming every step queue in one
thread (`engine_profile.drain_until`: the template's consumers, a batch through
`retouch.queue.consume` and the Powertools batch handler over the real `Engine`, the
in-process provider that answers at once). Redis Streams' consumer group shares each queue's
messages between the processes; the step's row lock makes a message delivered to two of them
do its work once.

The workers are spawned once and warmed (one small drain by all of them); then, round after
round, for each P of `--processes` in turn (interleaved, so the machine's load falls on every
P alike): N `cutout` tasks are created through the tasks service, P workers are told to drain,
and the clock runs until every task has ended. Reported per run: tasks/s, the workers' CPU per
task (user + system of each process, `resource.getrusage`, summed), MariaDB's and Redis's CPU
per task (their processes' `/proc/<pid>/stat`), SQL statements per task (counted by the
workers) and MariaDB's round trips per task (`Questions`; the watch's few reads included).
A measurement, not a test: always exits 0. Results are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import multiprocessing
import os
import resource
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.context import SpawnProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

from scripts.bench.engine_profile import ENDED, count_statements, drain_until, server_counts
from scripts.bench.health import child_env
from scripts.bench.pipeline import (
    create_tasks,
    ended,
    prepare,
    process_cpu_s,
    stdout_to,
    step_consumers,
)
from scripts.local.servers import temporary_servers

#: How often the parent looks whether every task has ended (its reads are taken out of the
#: round trips per task; their server CPU, ≈ 1 % of MariaDB's here, stays in).
WATCH_S = 0.1


@dataclass(frozen=True, slots=True)
class Outcome:
    """One worker's share of a drain."""

    cpu_s: float
    statements: int


@dataclass(frozen=True, slots=True)
class ProcessRun:
    """One drain of `tasks` tasks by `processes` workers."""

    processes: int
    tasks: int
    wall_s: float
    workers_cpu_s: float
    mariadb_cpu_s: float
    redis_cpu_s: float
    statements: int
    round_trips: int
    load: float

    def per_task_ms(self, seconds: float) -> float:
        return seconds / self.tasks * 1000


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def worker(orders: Queue[str | None], outcomes: Queue[Outcome], stop: Event, out: str) -> None:
    """A step function instance: its own connections, every step queue consumed in this one
    thread, drain after drain (an order each) until told `None`."""
    with stdout_to(Path(out)):
        consumers = step_consumers(1, "in-process")
        statements = count_statements()
        for _order in iter(orders.get, None):
            sent, cpu = len(statements), _cpu_s()
            drain_until(consumers, stop.is_set, idle_s=0.005)
            outcomes.put(Outcome(cpu_s=_cpu_s() - cpu, statements=len(statements) - sent))


class Workers:
    """The spawned workers, each with its own order queue; they share one outcome queue and
    one stop event."""

    def __init__(self, count: int, work: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.stop: Event = context.Event()
        self.outcomes: Queue[Outcome] = context.Queue()
        self.orders: list[Queue[str | None]] = [context.Queue() for _ in range(count)]
        self.processes: list[SpawnProcess] = [
            context.Process(
                target=worker,
                args=(orders, self.outcomes, self.stop, str(work / f"worker-{number}.stdout")),
                name=f"engine-worker-{number}",
                daemon=True,
            )
            for number, orders in enumerate(self.orders)
        ]
        for process in self.processes:
            process.start()

    def drain(self, task_ids: Sequence[str], processes: int) -> tuple[float, int, list[Outcome]]:
        """`processes` workers drain until every task of `task_ids` ended; the wall time and
        how often the parent looked."""
        self.stop.clear()
        started, looks = time.perf_counter(), 1
        for orders in self.orders[:processes]:
            orders.put("drain")
        while sum(ended(task_ids).get(status, 0) for status in ENDED) < len(task_ids):
            time.sleep(WATCH_S)
            looks += 1
        wall_s = time.perf_counter() - started
        self.stop.set()
        return wall_s, looks, [self.outcomes.get(timeout=60) for _ in range(processes)]

    def close(self) -> None:
        for orders in self.orders:
            orders.put(None)
        for process in self.processes:
            process.join(30)
            if process.is_alive():
                process.terminate()


@functools.cache
def look_round_trips() -> int:
    """The round trips of one look of the watch (`ended`), counted once."""
    before = server_counts()["Questions"]
    for _ in range(10):
        ended(["tsk_none"])
    return round((server_counts()["Questions"] - before - 1) / 10)


def measured_run(
    workers: Workers, setup: Any, tasks: int, processes: int, servers: tuple[int, int]
) -> ProcessRun:
    """Create `tasks` tasks, then drain them with `processes` workers, measured."""
    task_ids = create_tasks(setup, tasks)
    load = os.getloadavg()[0]
    server_before = server_counts()["Questions"]
    mariadb_before, redis_before = (process_cpu_s(pid) for pid in servers)
    wall_s, looks, outcomes = workers.drain(task_ids, processes)
    mariadb_after, redis_after = (process_cpu_s(pid) for pid in servers)
    statuses = ended(task_ids)
    if statuses.get("succeeded", 0) != tasks:
        print(f"  not every task succeeded: {statuses}", file=sys.stderr)
    return ProcessRun(
        processes=processes,
        tasks=tasks,
        wall_s=wall_s,
        workers_cpu_s=sum(outcome.cpu_s for outcome in outcomes),
        mariadb_cpu_s=mariadb_after - mariadb_before,
        redis_cpu_s=redis_after - redis_before,
        statements=sum(outcome.statements for outcome in outcomes),
        round_trips=server_counts()["Questions"] - server_before - looks * look_round_trips(),
        load=load,
    )


def report(runs: Sequence[ProcessRun], counts: Sequence[int]) -> str:
    """Every run, then the median of each P's runs."""
    header = (
        "round  P  load  tasks/s  workers ms/task  MariaDB ms/task  Redis ms/task"
        "  statements/task  round trips/task"
    )
    lines = [header]
    for number, run in enumerate(runs):
        lines.append(
            f"{number // len(counts) + 1:5d} {run.processes:2d} {run.load:5.1f} "
            f"{run.tasks / run.wall_s:8.1f} {run.per_task_ms(run.workers_cpu_s):16.2f} "
            f"{run.per_task_ms(run.mariadb_cpu_s):16.2f} {run.per_task_ms(run.redis_cpu_s):14.2f} "
            f"{run.statements / run.tasks:16.1f} {run.round_trips / run.tasks:17.1f}"
        )
    lines.append("median per P:")
    for count in counts:
        mine = [run for run in runs if run.processes == count]
        lines.append(
            f"  P={count}: {statistics.median(r.tasks / r.wall_s for r in mine):.1f} tasks/s, "
            f"workers {statistics.median(r.per_task_ms(r.workers_cpu_s) for r in mine):.2f} ms"
            f" CPU per task, MariaDB "
            f"{statistics.median(r.per_task_ms(r.mariadb_cpu_s) for r in mine):.2f} ms, Redis "
            f"{statistics.median(r.per_task_ms(r.redis_cpu_s) for r in mine):.2f} ms"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=300)
    parser.add_argument(
        "--processes", type=int, nargs="+", default=sorted({1, 2, os.cpu_count() or 1})
    )
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    runs: list[ProcessRun] = []
    with temporary_servers("retouch-bench-engine-processes-") as (mariadb, redis, work):
        env = child_env({**mariadb.env(), **redis.env()})
        env["RETOUCH_STORAGE_LOCAL_ROOT"] = str(work / "objects")
        env["RETOUCH_STORAGE_LOCAL_SIGNING_KEY"] = "b" * 40
        most = max(args.processes)
        setup = prepare(env, (args.tasks + 5) * len(args.processes) * args.rounds + 10 * most)
        assert mariadb.process is not None and redis.process is not None  # noqa: S101
        servers = (mariadb.process.pid, redis.process.pid)
        os.environ.update(env)  # the spawned workers read their settings from it
        workers = Workers(most, work)
        try:
            with stdout_to(work / "parent.stdout"):
                # Warm-up: first imports, connections and consumer groups, out of the figures.
                warm = create_tasks(setup, 5 * most)
                workers.drain(warm, most)
            for round_number in range(args.rounds):
                for count in args.processes:
                    print(f"round {round_number + 1}: P={count} …", file=sys.stderr)
                    with stdout_to(work / "parent.stdout"):
                        runs.append(measured_run(workers, setup, args.tasks, count, servers))
        finally:
            workers.close()
    print(report(runs, args.processes))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
