"""Side by side: the engine's first read of a message, as 31 columns of a join against one
JSON document, in one process, interleaved.

    .venv/bin/python -m scripts.bench.engine_reads [--tasks 50] [--reads 2000] [--rounds 6]

Starts a private MariaDB and Redis as `scripts.bench.engine_profile` does, runs N `cutout`
tasks through the engine (each then has its three steps' rows), and in each round reads
every task with its steps' rows `--reads` times in each form, the two forms alternating
which goes first: the join of `tasks` and `task_steps` (the task's 16 columns beside each
step's 15, one row per step: what `StepRepository.task_with_steps` sent before) and the one
JSON document it sends now. Prints the client's CPU per read (`time.process_time`: pymysql's
parsing) and the server's (MariaDB's process, `/proc/<pid>/stat`: building the document is its
work) and their ratios per round; the load average beside it. A
measurement, not a test: always exits 0. Results are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from scripts.bench.engine_profile import drain
from scripts.bench.health import child_env
from scripts.bench.pipeline import (
    create_tasks,
    prepare,
    process_cpu_s,
    stdout_to,
    step_consumers,
)
from scripts.local.servers import temporary_servers


def join_read() -> Callable[[Any, str], object]:
    """The read as it was: the task's and its steps' columns side by side, a row per step."""
    from retouch.pipeline.repository import _STEP_NAMES
    from retouch.pipeline.rows import step_from_row
    from retouch.tasks.rows import TASK_COLUMNS, task_from_row

    sql = " ".join(
        (
            "SELECT",
            ", ".join(f"t.{name}" for name in TASK_COLUMNS) + ",",
            ", ".join(f"s.{name} AS s_{name}" for name in _STEP_NAMES),
            "FROM tasks t LEFT JOIN task_steps s ON s.task_id = t.id WHERE t.public_id = %s",
        )
    )

    def read(uow: Any, public_id: str) -> object:
        rows = uow.fetch_all(sql, (public_id,))
        steps = (
            step_from_row({name: row[f"s_{name}"] for name in _STEP_NAMES})
            for row in rows
            if row["s_id"] is not None
        )
        return task_from_row(rows[0]), {step.step_index: step for step in steps}

    return read


def document_read(uow: Any, public_id: str) -> object:
    """The read as it is (`StepRepository.task_with_steps`)."""
    from retouch.pipeline.repository import StepRepository

    return uow.repository(StepRepository).task_with_steps(public_id)


def cpu_per_read(
    read: Callable[[Any, str], object], task_ids: Sequence[str], reads: int, server: int
) -> tuple[float, float]:
    """Client and server CPU per read, µs, over `reads` reads cycling through `task_ids`
    (`server`: MariaDB's process id)."""
    from retouch.core.db import get_database

    database = get_database("steps")
    with database.read_only() as uow:
        started, server_started = time.process_time(), process_cpu_s(server)
        for i in range(reads):
            read(uow, task_ids[i % len(task_ids)])
        client_s = time.process_time() - started
        return client_s / reads * 1e6, (process_cpu_s(server) - server_started) / reads * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=50)
    parser.add_argument("--reads", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args(argv)
    with temporary_servers("retouch-bench-engine-reads-") as (mariadb, redis, work):
        env = child_env({**mariadb.env(), **redis.env()})
        env["RETOUCH_STORAGE_LOCAL_ROOT"] = str(work / "objects")
        env["RETOUCH_STORAGE_LOCAL_SIGNING_KEY"] = "b" * 40
        setup = prepare(env, args.tasks)
        with stdout_to(work / "reads.stdout"):
            task_ids = create_tasks(setup, args.tasks)
            drain(task_ids, step_consumers(1, "in-process"))
        old, new = join_read(), document_read
        if not same_reads(old, new, task_ids):
            print("the two reads differ", file=sys.stderr)
            return 0
        assert mariadb.process is not None  # noqa: S101
        print(
            "round  load   join µs/read (client + server)  document µs/read (client + server)"
            "  document/join (client, both)"
        )
        ratios, totals = [], []
        for round_ in range(1, args.rounds + 1):
            load = os.getloadavg()[0]
            first, second = (old, new) if round_ % 2 else (new, old)
            timed = {first: cpu_per_read(first, task_ids, args.reads, mariadb.process.pid)}
            timed[second] = cpu_per_read(second, task_ids, args.reads, mariadb.process.pid)
            (join, join_server), (document, document_server) = timed[old], timed[new]
            ratios.append(document / join)
            totals.append((document + document_server) / (join + join_server))
            print(
                f"{round_:5d} {load:5.1f} {join:12.1f} + {join_server:6.1f}"
                f" {document:22.1f} + {document_server:6.1f} {ratios[-1]:16.3f}, {totals[-1]:.3f}"
            )
        print(
            f"median document/join: client {statistics.median(ratios):.3f}, "
            f"client and server {statistics.median(totals):.3f}"
        )
    return 0


def same_reads(
    old: Callable[[Any, str], object], new: Callable[[Any, str], object], task_ids: Sequence[str]
) -> bool:
    """Whether both forms read every task and its steps' rows alike."""
    from retouch.core.db import get_database

    with get_database("steps").read_only() as uow:
        return all(old(uow, task_id) == new(uow, task_id) for task_id in task_ids)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
