"""Benchmark: `reserve` throughput with 50 workers on ONE account vs on 50 accounts, one run.

    .venv/bin/python -m scripts.bench.quota [--workers 50] [--seconds 5] [--rounds 3]

Starts a private MariaDB in a temporary folder, migrates and seeds it, opens 1 + N accounts
with a balance no run can exhaust, then starts N worker processes (each one a function
instance: its own interpreter and its own connection). In every round both scenarios run for
`--seconds`, in alternating order so drift hits both alike:

* one account: all N workers reserve 1 credit at a time from the same account, so every
  reserve queues on that account's row lock (the conditional UPDATE);
* N accounts: worker i reserves from account i, so nothing is shared but the server.

Each call is `retouch.quota.reservations.reserve` (its own transaction: reservation row,
conditional UPDATE, ledger row, commit) with a fresh task ref, timed with `perf_counter`.
Reported per scenario: reserves per second over all rounds, and p50/p99 latency of every
call; then the ratio one/N. Afterwards the ledger of every account must sum to its balance.
A measurement, not a test: it always exits 0. Results are in docs/performance.md.
"""

# ruff: noqa: E402 - the layer goes on sys.path before `retouch` is imported

from __future__ import annotations

import argparse
import importlib.metadata
import multiprocessing
import os
import platform
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.synchronize import Barrier
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# `python -m scripts.bench.quota` from the checkout: the layer is what /opt/python is on Lambda.
sys.path.insert(0, str(ROOT / "layers" / "retouch"))

from retouch.bootstrap.clients import reset_clients
from retouch.core.db import Database, get_database
from retouch.core.ids import new_public_id
from retouch.core.settings import get_settings
from retouch.core.time import utc_now
from retouch.quota.reservations import reserve
from retouch.quota.service import grant_credits, open_account
from retouch.users.repository import MySQLUserRepository
from scripts.bench.health import percentile
from scripts.local.migrate import apply_migrations, load_seed
from scripts.local.servers import MariaDBServer

SCENARIOS = ("one account", "N accounts")
BALANCE = 10**12  # no run can spend it

# Settings need a Redis URL; nothing in this benchmark connects to it.
UNUSED_REDIS_URL = "redis://127.0.0.1:1/0"


@dataclass
class Samples:
    calls: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.calls / self.seconds if self.seconds else 0.0


def open_accounts(database: Database, count: int) -> list[int]:
    """`count` users, each with an account holding BALANCE credits."""
    user_ids = []
    with database.unit_of_work() as uow:
        for _ in range(count):
            user_id = (
                MySQLUserRepository(uow)
                .add(
                    public_id=new_public_id("usr"),
                    email=f"{secrets.token_hex(8)}@bench.test",
                    password_hash="-",  # noqa: S106 - no hash: the account never signs in
                    now=utc_now(),
                    verified=True,
                )
                .id
            )
            open_account(uow=uow, user_id=user_id)
            grant_credits(
                uow=uow, user_id=user_id, amount=BALANCE, reason="bench", ref=f"bench:{user_id}"
            )
            user_ids.append(user_id)
        uow.commit()
    return user_ids


def worker(index: int, commands: Connection, start: Barrier) -> None:
    """One instance: wait for (scenario, user_id, seconds), reserve until time is up, report."""
    database = Database(get_settings())
    database.connection()
    while (command := commands.recv()) is not None:
        label, user_id, seconds = command
        start.wait()
        latencies: list[float] = []
        began = time.perf_counter()
        deadline = began + seconds
        while (before := time.perf_counter()) < deadline:
            reserve(
                database=database,
                user_id=user_id,
                amount=1,
                task_ref=f"{label}:{index}:{len(latencies)}",
            )
            latencies.append((time.perf_counter() - before) * 1000)
        commands.send((latencies, time.perf_counter() - began))
    database.close()


def check_ledgers(database: Database, user_ids: Sequence[int]) -> list[int]:
    """The accounts whose ledger does not sum to the balance (expected: none)."""
    with database.unit_of_work() as uow:
        rows = uow.fetch_all(
            "SELECT a.user_id, a.balance, SUM(l.amount) AS total FROM quota_accounts a "
            "JOIN quota_ledger l ON l.user_id = a.user_id GROUP BY a.user_id, a.balance"
        )
    wanted = set(user_ids)
    return [
        row["user_id"]
        for row in rows
        if row["user_id"] in wanted and row["total"] != row["balance"]
    ]


def run(args: argparse.Namespace, database: Database) -> tuple[dict[str, Samples], list[int]]:
    shared, *own = open_accounts(database, 1 + args.workers)
    reset_clients()  # no connection of the parent goes into the workers
    context = multiprocessing.get_context("fork")
    start = context.Barrier(args.workers)
    pipes = [context.Pipe() for _ in range(args.workers)]
    workers = [
        context.Process(target=worker, args=(index, pipes[index][1], start), daemon=True)
        for index in range(args.workers)
    ]
    for process in workers:
        process.start()
    samples = {scenario: Samples() for scenario in SCENARIOS}
    try:
        for round_number in range(args.rounds):
            order = SCENARIOS if round_number % 2 == 0 else SCENARIOS[::-1]
            for scenario in order:
                for index, (parent_end, _) in enumerate(pipes):
                    user_id = shared if scenario == "one account" else own[index]
                    label = f"bench:{round_number}:{scenario.split()[0]}"
                    parent_end.send((label, user_id, args.seconds))
                results = [parent_end.recv() for parent_end, _ in pipes]
                into = samples[scenario]
                for latencies, _ in results:
                    into.latencies_ms += latencies
                    into.calls += len(latencies)
                into.seconds += max(elapsed for _, elapsed in results)
                print(f"  round {round_number + 1}, {scenario}: done", file=sys.stderr)
    finally:
        for parent_end, _ in pipes:
            parent_end.send(None)
        for process in workers:
            process.join(timeout=30)
    return samples, check_ledgers(get_database(), [shared, *own])


def report(
    samples: dict[str, Samples], mismatched: list[int], args: argparse.Namespace, load: str
) -> str:
    one, many = samples["one account"], samples["N accounts"]
    with get_database().unit_of_work() as uow:
        version = uow.fetch_one("SELECT VERSION() AS v")
    n = args.workers

    def line(metric: str, a: float, b: float, unit: str, digits: int) -> str:
        ratio = a / b if b else float("nan")
        return f"| {metric} | {a:,.{digits}f} {unit} | {b:,.{digits}f} {unit} | {ratio:.2f}× |"

    lines = [
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average before the run {load}",
        f"MariaDB {version['v'] if version else '?'}, "
        f"pymysql {importlib.metadata.version('pymysql')}",
        f"{n} worker processes, one connection each; {args.rounds} rounds x {args.seconds:g} s per "
        "scenario, alternating; each call: reserve 1 credit (own transaction)",
        "",
        f"| metric | 1 account, {n} workers | {n} accounts, 1 worker each | ratio (1 / {n}) |",
        "| --- | ---: | ---: | ---: |",
        line("throughput", one.per_second, many.per_second, "reserves/s", 0),
        line(
            "latency p50",
            percentile(one.latencies_ms, 50),
            percentile(many.latencies_ms, 50),
            "ms",
            2,
        ),
        line(
            "latency p99",
            percentile(one.latencies_ms, 99),
            percentile(many.latencies_ms, 99),
            "ms",
            2,
        ),
        f"| calls | {one.calls:,} | {many.calls:,} | |",
        "",
        "ledger sums to balance: "
        + ("yes, every account" if not mismatched else f"NO for users {mismatched}"),
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--workers", type=int, default=50, help="concurrent worker processes")
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each scenario run")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of both scenarios")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="bench-quota-") as folder:
        server = MariaDBServer(Path(folder) / "mariadb")
        print("starting MariaDB …", file=sys.stderr)
        server.start()
        try:
            for name in [name for name in os.environ if name.startswith("RETOUCH_")]:
                del os.environ[name]
            os.environ.update({**server.env(), "RETOUCH_REDIS_URL": UNUSED_REDIS_URL})
            # The seed's catalog names the local stack's offline providers (as `scripts/run`).
            os.environ["RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK"] = "true"
            reset_clients()
            apply_migrations(get_settings())
            load_seed()
            print(
                f"measuring: {args.rounds} rounds x 2 scenarios x {args.seconds:g} s …",
                file=sys.stderr,
            )
            samples, mismatched = run(args, get_database())
            print(report(samples, mismatched, args, load))
        finally:
            reset_clients()
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
