"""Benchmark: what migration 0017's indexes add to a task's writes, side by side.

    .venv/bin/python -m scripts.bench.rollup_indexes [--prefill 200000] [--tasks 2000] [--rounds 5]

Starts a private MariaDB and creates two copies of the `tasks` table as migration 0007 makes
it (without its foreign keys, which would need users and features): `tasks_before`, and
`tasks_after` with the three indexes 0017 adds to `tasks` (read from the migration itself).
Both are prefilled with `--prefill` rows, so the trees have a production-like depth. Then, in
interleaved rounds, each copy lives `--tasks` tasks the way the API and the pipeline write
them, one autocommitted statement each: the insert (queued), the start (running) and the
ending (succeeded, `finished_at` set). Prints the µs per task life of each copy and the ratio
after / before per round and overall (median). A measurement, not a test: exits 0.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pymysql

from scripts.bench.health import ROOT
from scripts.local.servers import temporary_servers

MIGRATIONS = ROOT / "shared" / "migrations"
TABLES = ("tasks_before", "tasks_after")


def tasks_ddl(table: str) -> str:
    """0007's CREATE TABLE tasks, renamed, without its foreign keys."""
    text = (MIGRATIONS / "0007.tasks.sql").read_text()
    create = re.search(r"CREATE TABLE IF NOT EXISTS tasks \((.*?)\n\) ENGINE", text, re.S)
    if create is None:
        raise RuntimeError("0007.tasks.sql: no CREATE TABLE tasks")
    lines = [
        line
        for line in re.sub(r"--[^\n]*", "", create.group(1)).splitlines()
        if line.strip() and "FOREIGN KEY" not in line and "REFERENCES" not in line
    ]
    body = "\n".join(lines).rstrip().rstrip(",")
    return f"CREATE TABLE {table} ({body}\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"


def added_task_indexes() -> list[str]:
    """The `ADD KEY` clauses 0017 applies to `tasks`."""
    text = re.sub(r"--[^\n]*", "", (MIGRATIONS / "0017.rollups.sql").read_text())
    block = re.search(r"ALTER TABLE tasks(.*?);", text, re.S)
    if block is None:
        raise RuntimeError("0017.rollups.sql: no ALTER TABLE tasks")
    return [clause.strip() for clause in block.group(1).split(",\n") if clause.strip()]


def connect(env: dict[str, str]) -> Any:
    return pymysql.connect(
        host=env["RETOUCH_DB_HOST"],
        port=int(env["RETOUCH_DB_PORT"]),
        user=env["RETOUCH_DB_USER"],
        password=env["RETOUCH_DB_PASSWORD"],
        database=env["RETOUCH_DB_NAME"],
        autocommit=True,
    )


_INSERT = (
    "INSERT INTO {table} (public_id, user_id, feature_key, form_version, pipeline_version, "
    "inputs, cost, created_at) VALUES (%s, %s, %s, 1, 1, '{{}}', 1, %s)"
)
_PREFILL = (
    "INSERT INTO {table} (public_id, user_id, feature_key, form_version, pipeline_version, "
    "status, inputs, cost, created_at, finished_at) "
    "SELECT CONCAT('tsk_pre', seq), seq MOD 20000, ELT(1 + seq MOD 5, 'cutout', 'eraser', "
    "'outfit', 'faceswap', 'outpaint'), 1, 1, ELT(1 + seq MOD 3, 'succeeded', 'failed', "
    "'canceled'), '{{}}', 1, NOW(3) - INTERVAL seq SECOND, NOW(3) - INTERVAL seq SECOND "
    "FROM seq_1_to_{rows}"
)


def prepare(cursor: Any, prefill: int) -> None:
    for table in TABLES:
        cursor.execute(tasks_ddl(table))
    cursor.execute("ALTER TABLE tasks_after " + ", ".join(added_task_indexes()))
    for table in TABLES:
        cursor.execute(_PREFILL.format(table=table, rows=prefill))


def live(cursor: Any, table: str, tasks: int, serial: int) -> float:
    """Seconds to insert, start and finish `tasks` tasks in `table`, one statement each."""
    now = datetime(2026, 12, 5, 12) + timedelta(seconds=serial)
    started = time.perf_counter()
    for n in range(tasks):
        public_id = f"tsk_b{serial}_{n}"
        cursor.execute(_INSERT.format(table=table), (public_id, n % 20000, "cutout", now))
        cursor.execute(
            f"UPDATE {table} SET status = 'running', started_at = %s "  # noqa: S608
            "WHERE public_id = %s AND status = 'queued'",
            (now, public_id),
        )
        cursor.execute(
            f"UPDATE {table} SET status = 'succeeded', finished_at = %s "  # noqa: S608
            "WHERE public_id = %s AND status = 'running'",
            (now, public_id),
        )
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefill", type=int, default=200_000)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    with temporary_servers("retouch-bench-rollup-", ("--innodb-buffer-pool-size=512M",)) as (
        mariadb,
        _redis,
        _work,
    ):
        connection = connect(mariadb.env())
        with connection.cursor() as cursor:
            print(f"prefilling {args.prefill:,} rows in each table …", file=sys.stderr)
            prepare(cursor, args.prefill)
            live(cursor, "tasks_before", 200, serial=-1)  # warm both
            live(cursor, "tasks_after", 200, serial=-2)
            ratios = []
            print(f"{'round':>5} {'before µs/task':>15} {'after µs/task':>14} {'after/before':>13}")
            for round_ in range(args.rounds):
                # alternate the order so neither copy always runs second
                order = TABLES if round_ % 2 == 0 else TABLES[::-1]
                seconds = {
                    t: live(cursor, t, args.tasks, serial=round_ * 10 + i)
                    for i, t in enumerate(order)
                }
                before = seconds["tasks_before"] / args.tasks * 1e6
                after = seconds["tasks_after"] / args.tasks * 1e6
                ratios.append(after / before)
                print(f"{round_ + 1:>5} {before:>15.1f} {after:>14.1f} {after / before:>13.3f}")
        connection.close()
    print(
        f"median after/before: {statistics.median(ratios):.3f} "
        f"(3 statements per task life; indexes added: {', '.join(added_task_indexes())})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
