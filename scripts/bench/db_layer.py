"""Benchmark: what the DB layer's per-statement timing costs, and what a retention run does.

    .venv/bin/python -m scripts.bench.db_layer [--statements 2000] [--rounds 7] \
        [--retention-rows 100000] [--before <commit>]

Starts a private MariaDB and Redis, migrates and seeds, then:

1. **Timing cost** — the layer of `--before` (default: the commit before the timing came,
   d8ca3ae) and today's, loaded side by side in this process, run the same primary-key
   SELECT through a read-only unit of work (`--statements` per round), in interleaved rounds;
   prints µs per statement of each (median of the rounds) and their ratio.
2. **Retention** — `--retention-rows` published outbox rows and as many audit rows past their
   retention, then one run of the retention job (audit rows archived to a local folder);
   prints rows/s per table and the longest delete transaction, while a writer inserts outbox
   rows throughout and reports its slowest insert (the locks it waited for).

A measurement, not a test; it always exits 0. Results are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scripts.bench.health import LAYER, ROOT, prepare_servers
from scripts.local.servers import temporary_servers

sys.path.insert(0, str(LAYER))

SELECT = "SELECT id, feature_key, cost FROM feature_definitions WHERE id = %s"


def _layer_before(commit: str) -> Any:
    """`retouch.core.db` as it was at `commit`, imported under another name."""
    source = subprocess.run(  # noqa: S603 - fixed arguments
        ["git", "show", f"{commit}:layers/retouch/retouch/core/db.py"],  # noqa: S607
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    spec = importlib.util.spec_from_loader("retouch_db_before", loader=None)
    if spec is None:
        raise RuntimeError("cannot load the earlier layer")
    module = importlib.util.module_from_spec(spec)
    sys.modules["retouch_db_before"] = module
    exec(compile(source, "db_before.py", "exec"), module.__dict__)  # noqa: S102 - our own code
    return module


def _per_statement_us(database: Any, row_id: int, statements: int) -> float:
    with database.read_only() as uow:
        started = time.perf_counter()
        for _ in range(statements):
            uow.fetch_one(SELECT, (row_id,))
        return (time.perf_counter() - started) / statements * 1e6


def timing_cost(statements: int, rounds: int, before_commit: str) -> None:
    from retouch.core.db import Database
    from retouch.core.settings import get_settings

    settings = get_settings()
    before = _layer_before(before_commit).Database(settings)
    after = Database(settings, "job")
    with after.read_only() as uow:
        first = uow.fetch_one("SELECT MIN(id) AS id FROM feature_definitions")
        row_id = int(first["id"])  # type: ignore[index]
    samples: dict[str, list[float]] = {"before": [], "after": []}
    sides = {"before": before, "after": after}
    for round_index in range(rounds):
        # Alternate which side goes first, so neither always runs on a warmer machine.
        order = ("before", "after") if round_index % 2 == 0 else ("after", "before")
        for side in order:
            samples[side].append(_per_statement_us(sides[side], row_id, statements))
    median = {side: statistics.median(values) for side, values in samples.items()}
    print(f"\n## Timing cost: {statements} primary-key SELECTs × {rounds} interleaved rounds")
    print(f"before ({before_commit}): {median['before']:.1f} µs/statement")
    print(f"after  (timed):   {median['after']:.1f} µs/statement")
    print(f"after / before: {median['after'] / median['before']:.3f}")


def _fill(rows: int) -> None:
    from retouch.core.db import get_database

    connection = get_database("job").connection()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO outbox (queue_name, body, created_at, published_at) SELECT "  # noqa: S608
            "'steps-prepare', '{}', NOW(3) - INTERVAL 30 DAY, NOW(3) - INTERVAL 30 DAY "
            f"FROM seq_1_to_{int(rows)}"
        )
        cursor.execute(
            "INSERT INTO audit_logs (action, target_type, target_id, before_state, "  # noqa: S608
            "after_state, request_id, created_at) SELECT 'feature.update', 'feature', "
            "CONCAT('f', seq % 50), '{\"cost\": 1}', '{\"cost\": 2}', CONCAT('req-', seq), "
            f"NOW(3) - INTERVAL 400 DAY FROM seq_1_to_{int(rows)}"
        )


def _writer(stop: threading.Event, latencies: list[float]) -> None:
    from retouch.core.db import Database
    from retouch.core.settings import get_settings

    database = Database(get_settings(), "job")
    while not stop.is_set():
        started = time.perf_counter()
        with database.unit_of_work() as uow:
            uow.execute(
                "INSERT INTO outbox (queue_name, body, created_at) VALUES (%s, %s, NOW(3))",
                ("steps-prepare", "{}"),
            )
            uow.commit()
        latencies.append((time.perf_counter() - started) * 1000)
        time.sleep(0.005)


def retention(rows: int, work: Path) -> None:
    from retouch.core.db import get_database
    from retouch.core.settings import get_settings
    from retouch.retention import run_retention
    from retouch.storage.local import LocalStorage
    from retouch.storage.signing import Signer

    _fill(rows)
    storage = LocalStorage(root=work / "objects", base_url="http://x", signer=Signer(b"k" * 32))
    stop, latencies = threading.Event(), list[float]()
    writer = threading.Thread(target=_writer, args=(stop, latencies))
    writer.start()
    try:
        result = run_retention(
            database=get_database("job"), storage=storage, settings=get_settings()
        )
    finally:
        stop.set()
        writer.join()
    print(f"\n## Retention: {rows} outbox and {rows} audit rows past retention, one run")
    print(f"{'table':<18} {'deleted':>8} {'batches':>8} {'rows/s':>9} {'longest batch ms':>17}")
    for table, done in result.items():
        rate = done["deleted"] / done["seconds"] if done["seconds"] else 0.0
        print(
            f"{table:<18} {done['deleted']:>8} {done['batches']:>8} {rate:>9.0f} "
            f"{done['longest_batch_ms']:>17.1f}"
        )
    ordered = sorted(latencies)
    print(
        f"concurrent writer: {len(ordered)} inserts, p50 {statistics.median(ordered):.1f} ms, "
        f"max {ordered[-1]:.1f} ms"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--statements", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--retention-rows", type=int, default=100_000)
    parser.add_argument("--before", default="d8ca3ae")
    args = parser.parse_args(argv)
    with temporary_servers("retouch-bench-db-") as (mariadb, redis, work):
        prepare_servers({**mariadb.env(), **redis.env(), "RETOUCH_METRICS_SINK": "none"})
        timing_cost(args.statements, args.rounds, args.before)
        retention(args.retention_rows, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
