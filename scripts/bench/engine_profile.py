"""Profile: where the engine's CPU goes per task, under cProfile, in one thread.

    .venv/bin/python -m scripts.bench.engine_profile [--tasks 200] [--top 40]

Starts a private MariaDB and Redis as `scripts.bench.pipeline` does, creates N `cutout` tasks
through the tasks service, then drains the four step queues in this one thread (the consumers
of template.yaml, each batch through `retouch.queue.consume` and a Powertools batch handler
over the real `Engine`, the in-process provider that answers at once) with cProfile on. Prints
the CPU per task over the drain and the functions with the most cumulative and own time, per
task. A measurement, not a test: always exits 0. Results are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Callable, Sequence

import pymysql

from scripts.bench.health import child_env
from scripts.bench.pipeline import create_tasks, ended, prepare, stdout_to, step_consumers
from scripts.local.servers import MariaDBServer, temporary_servers

ENDED = ("succeeded", "failed", "canceled")


def drain(task_ids: Sequence[str], consumers: object) -> None:
    """Every step queue in turn, one batch each, until every task has ended."""

    def all_ended() -> bool:
        statuses = ended(task_ids)
        return sum(statuses.get(s, 0) for s in ENDED) == len(task_ids)

    drain_until(consumers, all_ended)


def drain_until(consumers: object, finished: Callable[[], bool], idle_s: float = 0.01) -> None:
    """Every step queue in turn, one batch each; when a pass moved nothing, ask `finished`
    and, unless it says so, pause `idle_s` before the next pass."""
    from retouch.core.redis import get_redis
    from retouch.queue import RedisStreamsQueue, consume

    pairs = [
        (consumer, RedisStreamsQueue(get_redis(), consumer.config))
        for consumer in consumers.consumers  # type: ignore[attr-defined]
    ]
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        moved = 0
        for consumer, queue in pairs:
            outcome = consume(
                queue,
                consumer.queue.name,
                consumer.handler,
                max_messages=consumer.trigger.batch_size,
            )
            moved += len(outcome.acknowledged) + len(outcome.failed)
        if not moved:
            if finished():
                return
            time.sleep(idle_s)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--plain", action="store_true", help="no profiler: the CPU as it is")
    parser.add_argument(
        "--statements", action="store_true", help="also each statement's count per task"
    )
    parser.add_argument(
        "--server-time",
        action="store_true",
        help="MariaDB with its performance schema: the server's time per statement per task",
    )
    args = parser.parse_args(argv)
    options = ["--performance-schema=ON"] if args.server_time else []
    with temporary_servers("retouch-bench-engine-profile-", options) as (mariadb, redis, work):
        env = child_env({**mariadb.env(), **redis.env()})
        env["RETOUCH_STORAGE_LOCAL_ROOT"] = str(work / "objects")
        env["RETOUCH_STORAGE_LOCAL_SIGNING_KEY"] = "b" * 40
        setup = prepare(env, args.tasks * 2)
        with stdout_to(work / "profile.stdout"):
            # one warm-up round: first imports and connections out of the figures
            drain(create_tasks(setup, 5), step_consumers(1, "in-process"))
            task_ids = create_tasks(setup, args.tasks)
            consumers = step_consumers(1, "in-process")
            statements = count_statements()
            if args.server_time:
                server_time(mariadb)  # from here on
            server = server_counts()
            profile = cProfile.Profile(time.process_time)
            cpu, wall = time.process_time(), time.perf_counter()
            with contextlib.nullcontext() if args.plain else profile:
                drain(task_ids, consumers)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            sent = len(statements)
            server = {name: count - server[name] for name, count in server_counts().items()}
            statuses = ended(task_ids)
            by_statement = server_time(mariadb) if args.server_time else []
    if not args.plain:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        for order in ("cumulative", "tottime"):
            stats.sort_stats(order).print_stats(args.top)
        print(out.getvalue())
    for digest, count, seconds in by_statement:
        print(f"{seconds / args.tasks * 1000:7.3f} ms {count / args.tasks:6.2f}x  {digest[:140]}")
    if args.statements:
        for sql, count in collections.Counter(statements).most_common():
            print(f"{count / args.tasks:6.2f}  {' '.join(sql.split())[:150]}")
    print(
        f"{args.tasks} tasks {statuses}: {args.tasks / wall:.1f} tasks/s (one thread"
        f"{'' if args.plain else ', profiled'}), {cpu / args.tasks * 1000:.2f} ms CPU per task"
        f"{'' if args.plain else ' (with the profiler own cost)'}, "
        f"{sent / args.tasks:.1f} SQL statements per task (BEGIN and COMMIT not counted); "
        f"the server counted per task {server['Questions'] / args.tasks:.1f} round trips "
        f"({server['Com_begin'] / args.tasks:.1f} BEGIN, {server['Com_commit'] / args.tasks:.1f}"
        f" COMMIT, {server['Com_rollback'] / args.tasks:.1f} ROLLBACK)"
    )
    return 0


def server_counts() -> dict[str, int]:
    """MariaDB's own counts of the statements every client sent (`Questions`: each round
    trip, BEGIN and COMMIT included), as the drain's figures need them."""
    from retouch.core.db import get_database

    with get_database("job").read_only() as uow:
        rows = uow.fetch_all(
            "SHOW GLOBAL STATUS WHERE Variable_name IN "
            "('Questions', 'Com_begin', 'Com_commit', 'Com_rollback')"
        )
    return {row["Variable_name"]: int(row["Value"]) for row in rows}


def server_time(mariadb: MariaDBServer) -> list[tuple[str, int, float]]:
    """The server's time per statement digest since the last call (the performance schema's
    summary, read and emptied as root): (digest text, count, seconds), the costliest first."""
    connection = pymysql.connect(unix_socket=str(mariadb.socket_path), user="root")
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT DIGEST_TEXT, COUNT_STAR, SUM_TIMER_WAIT / 1e12 FROM "
                "performance_schema.events_statements_summary_by_digest "
                "ORDER BY SUM_TIMER_WAIT DESC LIMIT 25"
            )
            rows = cursor.fetchall()
            cursor.execute("TRUNCATE TABLE performance_schema.events_statements_summary_by_digest")
    finally:
        connection.close()
    return [(str(text), int(count), float(seconds)) for text, count, seconds in rows]


def count_statements() -> list[str]:
    """Every statement sent from here on (the drain's, and its watch's few)."""
    from retouch.core.db_statements import OBSERVERS

    sent: list[str] = []
    OBSERVERS.append(lambda sql, _params, _use: sent.append(sql))
    return sent


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
