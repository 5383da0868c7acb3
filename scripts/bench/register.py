"""Benchmark: register a new address vs an address that has an account, side by side.

    .venv/bin/python -m scripts.bench.register [--pairs N]

Starts a private MariaDB and Redis, migrates and seeds, then registers through the auth
service (`retouch.auth.service.register`, what `POST /v1/auth/register` runs after its
limits) in interleaved pairs: a new address (an unverified account, its credit account and
verification token, the verification mail) and a taken one (the failed insert, the "you
already have an account" mail). Mail goes to an in-memory mailer, so the figures are ours,
not an SMTP server's. Both hash the password (Argon2id) through the hashing cap, so the two
should take about as long: the ratio is what tells an attacker timing the answer nothing.
Prints a table with the load average and always exits 0: a measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import platform
import secrets
import sys
import time
from collections.abc import Sequence

from scripts.bench.health import LAYER, child_env, percentile, prepare_servers
from scripts.local.servers import temporary_servers

sys.path.insert(0, str(LAYER))

PASSWORD = "Bench-Horse-42"  # noqa: S105 - a benchmark account's


def measure(pairs: int) -> dict[str, list[float]]:
    """Milliseconds per registration, new and taken, measured alternately."""
    from retouch.auth.service import register
    from retouch.core.db import get_database
    from retouch.core.settings import get_settings
    from retouch.notify.mailer import Mail

    sent: list[Mail] = []
    inbox = type("Inbox", (), {"send": staticmethod(sent.append)})()
    settings, database = get_settings(), get_database()
    taken = f"taken-{secrets.token_hex(4)}@bench.test"
    register(database=database, settings=settings, email=taken, password=PASSWORD, mailer=inbox)
    samples: dict[str, list[float]] = {"new": [], "taken": []}
    for index in range(pairs * 2 + 2):
        side = "new" if index % 2 == 0 else "taken"
        email = f"new-{secrets.token_hex(6)}@bench.test" if side == "new" else taken
        started = time.perf_counter()
        register(database=database, settings=settings, email=email, password=PASSWORD, mailer=inbox)
        if index >= 2:  # the first pair warms the connections and the hasher
            samples[side].append((time.perf_counter() - started) * 1000)
    return samples


def report(samples: dict[str, list[float]]) -> str:
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, load average {load}",
        f"{len(samples['new'])} interleaved pairs of registrations through the auth service",
        "",
        "| metric | new address | taken address | taken / new |",
        "| --- | ---: | ---: | ---: |",
    ]
    for q in (50, 90):
        new, taken = percentile(samples["new"], q), percentile(samples["taken"], q)
        lines.append(f"| p{q} | {new:.1f} ms | {taken:.1f} ms | {taken / new:.2f}× |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20, help="pairs measured (default 20)")
    args = parser.parse_args(argv)
    with temporary_servers("retouch-bench-register-") as (mariadb, redis, _work):
        prepare_servers(child_env({**mariadb.env(), **redis.env()}))
        samples = measure(args.pairs)
    print(report(samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
