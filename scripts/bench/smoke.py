"""Smoke benchmark: the ratios the regression guard holds, in seconds rather than minutes.

    .venv/bin/python -m scripts.bench.smoke [--rounds 12] [--per-round 60] [--cold-pairs 5]
        [--json FILE]

Starts a private MariaDB and Redis, registers one user with a few tasks, then measures, each
side by side with its bare app in one run (tests/bench/invoke.py, interleaved rounds):

- `tasks_read_warm`: warm `GET /v1/tasks/{id}` of the tasks function ÷ the bare FastAPI+Mangum
  app (tests/bench/bare_app.py), each round's p50 against the other's; the lowest over the
  rounds, the quietest one (`tasks_read_warm_median` beside it, for the record). A busy machine
  only adds time, and more to the side with more round trips: on a machine loaded 10-30× its
  cores, the median of the rounds swung between 6 and 22 while the lowest stayed near 2;
- `health_cold`: a whole fresh interpreter importing the health function and answering one
  `GET /health/redis` ÷ the same for the bare app; the median over the pairs of each pair's
  ratio, the sides alternating first.

Prints the ratios as JSON (also to `--json`); tests/bench_smoke/test_ratios.py compares them
with tests/bench_smoke/baseline.json. The ratios are what is meant to be stable on a busy
machine: both sides of a pair run back to back in the same conditions.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

import jwt

from scripts.bench.health import BARE, child_env, cold_start, load_event, run_warm
from scripts.bench.health import OURS as HEALTH
from scripts.bench.me import sign_up
from scripts.bench.tasks import OURS as TASKS
from scripts.bench.tasks import rest_event
from scripts.local.servers import temporary_servers


def _owned_task(token: str) -> str:
    """A succeeded task of the token's user, generated for the run."""
    from retouch.core.db import get_database
    from scripts.bench.generate_tasks import generate

    subject = jwt.decode(token, options={"verify_signature": False})["sub"]
    database = get_database()
    generate(database, rows=40, user_rows=40, users=1, owner=subject, stream=sys.stderr)
    with database.unit_of_work() as uow:
        row = uow.fetch_one(
            "SELECT t.public_id FROM tasks t JOIN users u ON u.id = t.user_id "
            "WHERE u.public_id = %s AND t.status = 'succeeded' LIMIT 1",
            (subject,),
        )
    if row is None:
        raise RuntimeError("no succeeded task was generated")
    return str(row["public_id"])


def per_round_ratios(samples: dict[str, list[int]], per_round: int) -> list[float]:
    """Each round's ours ÷ bare, p50 against p50."""
    ratios = []
    for start in range(0, len(samples["ours"]), per_round):
        ours, bare = (statistics.median(samples[side][start : start + per_round])
                      for side in ("ours", "bare"))  # fmt: skip
        ratios.append(ours / bare)
    return ratios


def measure(args: argparse.Namespace) -> dict[str, float]:
    """Both ratios, on private servers."""
    with temporary_servers("retouch-smoke-") as (mariadb, redis, work):
        env = child_env({**mariadb.env(), **redis.env()})
        token = sign_up(env)
        event_file = work / "read.json"
        event_file.write_text(
            json.dumps(rest_event(token, "GET", f"/v1/tasks/{_owned_task(token)}"))
        )
        counts = {"warmup": 3 * args.per_round, "rounds": args.rounds, "per_round": args.per_round}
        read = run_warm(TASKS, event_file, work, env, **counts, name="read")["samples_ns"]
        health_event = work / "health.json"
        health_event.write_text(json.dumps(load_event()[0]))
        files = {"ours": HEALTH, "bare": BARE}
        cold_ratios = []
        for pair in range(args.cold_pairs + 1):
            order = ("ours", "bare") if pair % 2 == 0 else ("bare", "ours")
            ms = {side: cold_start(side, files[side], health_event, work, env).process_ms
                  for side in order}  # fmt: skip
            if pair:  # the first pair writes the .pyc files and warms the page cache
                cold_ratios.append(ms["ours"] / ms["bare"])
    reads = per_round_ratios(read, args.per_round)
    return {
        "tasks_read_warm": round(min(reads), 3),
        "tasks_read_warm_median": round(statistics.median(reads), 3),
        "health_cold": round(statistics.median(cold_ratios), 3),
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=12, help="interleaved warm rounds")
    parser.add_argument("--per-round", type=int, default=60, help="warm calls per side a round")
    parser.add_argument("--cold-pairs", type=int, default=5, help="cold starts per side")
    parser.add_argument("--json", type=Path, help="also write the ratios here")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    ratios = measure(args)
    text = json.dumps(ratios, sort_keys=True)
    if args.json is not None:
        args.json.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
