"""Benchmark: the round trips of one `POST /v1/tasks`, counted by the servers themselves.

    .venv/bin/python -m scripts.bench.create_trips [--calls 200]

Starts a private MariaDB and Redis, prepares the hot path benchmark's user and create event
(`scripts.bench.hotpath.prepare`), then runs the tasks function on that event in two fresh
interpreters (tests/bench/invoke.py's `profile` mode: the same warm-up, then a short and a
long run) and reads the servers' own counters around each: MariaDB's `Questions` and `Com_*`
(`SHOW GLOBAL STATUS`: a statement sent is a round trip), Redis's `INFO commandstats` (a
command or script call; a pipeline of several is still one round trip, so the `EVALSHA`
and `XADD` rows are the ones to read). The long run's counts less the short run's, divided
by the difference in calls, are one warm create's: the interpreter's start, the warm-up and
our own status reads cancel out. A measurement, not a test: always exits 0.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

import pymysql
import redis

from scripts.bench.health import _run_child, child_env
from scripts.bench.hotpath import FILES, prepare
from scripts.local.servers import MariaDBServer, RedisServer, temporary_servers

WARMUP = 50
#: MariaDB counters worth a line; every other `Com_*` that moved is summed under "other".
_NAMED = ("Com_select", "Com_insert", "Com_update", "Com_delete", "Com_begin", "Com_commit")


def _mariadb_counts(server: MariaDBServer) -> dict[str, int]:
    env = server.env()
    connection = pymysql.connect(
        host=env["RETOUCH_DB_HOST"],
        port=int(env["RETOUCH_DB_PORT"]),
        user=env["RETOUCH_DB_USER"],
        password=env["RETOUCH_DB_PASSWORD"],
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SHOW GLOBAL STATUS WHERE Variable_name LIKE 'Com\\_%' OR "
                "Variable_name = 'Questions'"
            )
            return {name: int(value) for name, value in cursor.fetchall()}
    finally:
        connection.close()


def _redis_counts(server: RedisServer) -> dict[str, int]:
    client = redis.Redis.from_url(server.url)
    try:
        stats: dict[str, Any] = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


def counted(
    mariadb: MariaDBServer, redis_server: RedisServer, run: Any
) -> tuple[dict[str, int], dict[str, int]]:
    """The counters' growth over `run()`."""
    db_before, redis_before = _mariadb_counts(mariadb), _redis_counts(redis_server)
    run()
    db_after, redis_after = _mariadb_counts(mariadb), _redis_counts(redis_server)
    db = {k: v - db_before.get(k, 0) for k, v in db_after.items()}
    rd = {k: v - redis_before.get(k, 0) for k, v in redis_after.items()}
    return db, rd


def per_create(short: dict[str, int], long: dict[str, int], calls: int) -> dict[str, float]:
    """Each counter's growth per call between the short and the long run (zeros dropped)."""
    rows = {k: (long.get(k, 0) - short.get(k, 0)) / calls for k in set(short) | set(long)}
    return {k: v for k, v in sorted(rows.items()) if abs(v) >= 0.005}


def report(db: dict[str, float], rd: dict[str, float]) -> list[str]:
    lines = ["| server | counter | per create |", "| --- | --- | ---: |"]
    questions = db.pop("Questions", 0.0)
    other = sum(v for k, v in db.items() if k not in _NAMED)
    lines += [f"| MariaDB | {k} | {db[k]:.2f} |" for k in _NAMED if k in db]
    lines += [
        f"| MariaDB | other Com_* | {other:.2f} |",
        f"| MariaDB | **Questions (round trips)** | **{questions:.2f}** |",
    ]
    lines += [f"| Redis | {k} | {v:.2f} |" for k, v in rd.items() if k != "info"]
    calls = sum(v for k, v in rd.items() if k != "info")
    lines.append(f"| Redis | commands, those run by the scripts included | {calls:.2f} |")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="extra creates in the long run")
    args = parser.parse_args(argv)
    with temporary_servers("retouch-bench-trips-") as (mariadb, redis_server, work):
        env = child_env({**mariadb.env(), **redis_server.env()})
        env["RETOUCH_RATE_LIMIT_TASKS_PER_USER_PER_MIN"] = "1000000"
        _token, files = prepare(env, work, credits=100 * (4 * WARMUP + 4 * args.calls))

        def run(calls: int) -> Any:
            arguments = [str(FILES["create"]), str(files["create"]), str(work / "p.json")]
            return lambda: _run_child(
                ["profile", *arguments, str(WARMUP), str(calls)], env, work / "trips.stdout"
            )

        # profile mode runs its calls twice (plain, then profiled): 2 × calls per run.
        short = counted(mariadb, redis_server, run(10))
        long = counted(mariadb, redis_server, run(10 + args.calls))
    db = per_create(short[0], long[0], 2 * args.calls)
    rd = per_create(short[1], long[1], 2 * args.calls)
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"{2 * args.calls} creates counted; load average {load}\n")
    print("\n".join(report(db, rd)))
    print("\n" + json.dumps({"mariadb": db, "redis": rd}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
