"""Benchmark: task creation's one read, ten columns against one JSON column, side by side.

    .venv/bin/python -m scripts.bench.create_read [--rounds 20] [--per-round 200]

Starts a private MariaDB and Redis, registers one user with a ready upload (as
`scripts.bench.hotpath` does), then sends the creation read (`tasks/creation.py`) for that
user, the `cutout` feature and the upload through our unit of work, interleaved in rounds:
the statement as it was (ten columns per row) and as it is (`_FACTS`: the same joins, one
`JSON_OBJECT` column per row, parsed with `json.loads`). Reports each side's client CPU
(`time.process_time_ns`) and wall p50, the best round's CPU p50 and the ratio. A
measurement, not a test; results in docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from scripts.bench.health import child_env
from scripts.local.servers import temporary_servers

#: The creation read before it returned one JSON column (commit c51160d).
TEN_COLUMNS = (
    "SELECT f.enabled, f.cost, f.allowed_plans, f.form_version, f.pipeline_version, "
    "p.max_concurrent_tasks, p.max_input_pixels, u.public_id AS upload_id, u.width, u.height "
    "FROM feature_definitions f "
    "LEFT JOIN plans p ON p.code = %s "
    "LEFT JOIN uploads u ON u.user_id = %s AND u.status = 'ready' AND u.public_id IN %s "
    "WHERE f.feature_key = %s"
)


def sides(user_id: int, upload: str) -> dict[str, Callable[[], Any]]:
    from retouch.core.db import get_database
    from retouch.tasks.creation import MySQLCreationReads

    database = get_database()
    parameters = ("free", user_id, (upload,), "cutout")

    def ten_columns() -> Any:
        with database.read_only() as uow:
            rows = uow.fetch_all(TEN_COLUMNS, parameters)
        first = rows[0]
        return (json.loads(first["allowed_plans"]), {r["upload_id"]: r["width"] for r in rows})

    def one_column() -> Any:
        with database.read_only() as uow:
            facts = MySQLCreationReads(uow).facts(
                feature_key="cutout", plan_code="free", user_id=user_id, upload_ids=[upload]
            )
        if facts is None:
            raise RuntimeError("the cutout feature is not seeded")
        return facts

    return {"ten columns (before)": ten_columns, "one JSON column (after)": one_column}


def measure(run: dict[str, Callable[[], Any]], rounds: int, per_round: int) -> list[str]:
    cpu: dict[str, list[list[int]]] = {name: [] for name in run}
    wall: dict[str, list[int]] = {name: [] for name in run}
    for _ in range(rounds):
        for name, call in run.items():
            round_cpu = []
            for _ in range(per_round):
                started, cpu_started = time.perf_counter_ns(), time.process_time_ns()
                call()
                round_cpu.append(time.process_time_ns() - cpu_started)
                wall[name].append(time.perf_counter_ns() - started)
            cpu[name].append(round_cpu)
    lines = [
        "| statement | CPU p50 | best round's CPU p50 | wall p50 |",
        "| --- | ---: | ---: | ---: |",
    ]
    best = {}
    for name in run:
        every = [value for one in cpu[name] for value in one]
        best[name] = min(statistics.median(one) for one in cpu[name])
        lines.append(
            f"| {name} | {statistics.median(every) / 1000:.0f} µs | {best[name] / 1000:.0f} µs "
            f"| {statistics.median(wall[name]) / 1000:.0f} µs |"
        )
    before, after = best.values()
    lines += ["", f"after ÷ before (best rounds' CPU p50): {after / before:.2f}"]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=200)
    args = parser.parse_args(argv)
    with temporary_servers("retouch-bench-create-read-") as (mariadb, redis, _work):
        os.environ.update(child_env({**mariadb.env(), **redis.env()}))
        from retouch.core.db import get_database
        from scripts.bench.hotpath import _user
        from scripts.bench.me import sign_up
        from scripts.bench.tasks import ready_upload

        token = sign_up(dict(os.environ))
        with get_database().read_only() as uow:
            user = _user(uow, token)
        upload = ready_upload(get_database(), user, credits=100)
        run = sides(user.id, upload)
        for call in run.values():  # warm: connection, versions, both statements prepared
            for _ in range(50):
                call()
        lines = measure(run, args.rounds, args.per_round)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
