"""Benchmark: the rollup job over a large `tasks`, and the overview it serves against the
direct aggregate it replaces, side by side.

    .venv/bin/python -m scripts.bench.rollup_job [--rows 1000000] [--calls 20]

Starts a private MariaDB (1 GB buffer pool) and Redis, migrates and seeds, and fills `tasks`
with scripts/bench/generate_tasks.py (`--rows` over six months up to now). Then:

a. the job's scheduled run (`recompute_recent`: the current and previous hour, day and week),
   and a backfill of the last 7 days (every hour, day and week in them), timed;
b. `GET /v1/admin/metrics/overview?window=7d`'s read (`admin.metrics.overview`: the rollups)
   against the direct aggregate of the same figures over `tasks` (ended in the last 7 days,
   by feature and status, through `ix_tasks_finished`), interleaved `--calls` times each;
   median ms and the ratio direct / rollups.

Prints the figures and always exits 0: a measurement, not a test (docs/performance.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from scripts.bench.health import LAYER, child_env, prepare_servers
from scripts.local.servers import temporary_servers

sys.path.insert(0, str(LAYER))

_DIRECT = (
    "SELECT feature_key, status, COUNT(*) AS n, "
    "SUM(TIMESTAMPDIFF(MICROSECOND, created_at, finished_at)) AS us FROM tasks "
    "FORCE INDEX (ix_tasks_finished) WHERE finished_at >= %s AND finished_at < %s "
    "GROUP BY feature_key, status"
)


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return (time.perf_counter() - started) * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args(argv)
    with temporary_servers("retouch-bench-rollups-", ("--innodb-buffer-pool-size=1G",)) as (
        mariadb,
        redis,
        _work,
    ):
        prepare_servers(child_env({**mariadb.env(), **redis.env()}))
        from retouch.admin.metrics import overview, window_range
        from retouch.core.db import get_database
        from retouch.core.time import to_db, utc_now
        from retouch.rollups.service import backfill, recompute_recent
        from scripts.bench.generate_tasks import generate

        database = get_database()
        generate(database, rows=args.rows, user_rows=min(1000, args.rows))
        now = utc_now()
        week_back = timedelta(days=7)
        backfill_ms = timed(lambda: backfill(database=database, since=now - week_back, until=now))
        scheduled = [timed(lambda: recompute_recent(database=database)) for _ in range(5)]
        _, since, until = window_range("7d", now)

        def direct() -> None:
            with database.read_only() as uow:
                uow.fetch_all(_DIRECT, (to_db(since), to_db(until)))

        rollups, aggregate = [], []
        for _ in range(args.calls):
            rollups.append(timed(lambda: overview(database=database, window="7d")))
            aggregate.append(timed(direct))
    with_rollups, without = statistics.median(rollups), statistics.median(aggregate)
    print(f"tasks: {args.rows:,} over six months")
    print(f"a. backfill of the last 7 days: {backfill_ms:,.0f} ms")
    print(f"   scheduled run (6 periods), median of 5: {statistics.median(scheduled):,.1f} ms")
    print(
        f"b. 7-day overview, median of {args.calls}: rollups {with_rollups:.2f} ms, "
        f"direct aggregate over tasks {without:.2f} ms, "
        f"direct / rollups {without / with_rollups:.1f}x"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
