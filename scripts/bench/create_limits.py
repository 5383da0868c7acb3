"""Benchmark: a create's two rate limits, in two Redis round trips against one, side by side.

    .venv/bin/python -m scripts.bench.create_limits [--rounds 20] [--per-round 200]

Starts a private Redis, caches one caller's record and live session as the caller cache
does, then interleaves in rounds, through `RedisRateLimiter` on one client:

- two round trips (before): the per-IP step with the caller's read (`GCRA_READ_SCRIPT`),
  then the per-user step of `POST /v1/tasks` on its own (`GCRA_SCRIPT`);
- one round trip (after): the per-IP step, the read and the per-user step in one script
  (`GCRA_READ_STEP_SCRIPT`), the per-user decision built from its reply.

Reports each side's client CPU p50, the best round's CPU p50 and the wall p50 (the wall
includes Redis's own work and the loopback), and after ÷ before. The token check the
middleware adds before the folded step is remembered per instance (`core.security`): the
caller dependency's check of the same token, which both sides pay, then costs nothing, so it
is left out of both. A measurement, not a test; results in docs/performance.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import redis

from scripts.bench.create_read import measure
from scripts.local.servers import RedisServer

SUBJECT, SESSION, ADDRESS = "usr_benchbenchbenchbench00", "ses_benchbenchbenchbench00", "192.0.2.1"


def sides(client: redis.Redis) -> dict[str, Callable[[], Any]]:
    from retouch.core.caller_cache import LIVE, prefetch_read, record_key, session_field
    from retouch.core.ratelimit import Limit, RedisRateLimiter, decision_of, step_of

    client.hset(record_key(SUBJECT), mapping={"r": "{}", session_field(SESSION): LIVE})
    limiter = RedisRateLimiter(client)
    per_ip, per_user = Limit("ip", 10**9, 60), Limit("tasks_user", 10**9, 60)

    def two_round_trips() -> Any:
        limiter.hit(per_ip, ADDRESS, fail_open=True, read=prefetch_read(SUBJECT, SESSION))
        return limiter.hit(per_user, SUBJECT, fail_open=True)

    def one_round_trip() -> Any:
        read = prefetch_read(SUBJECT, SESSION, step_of(per_user, SUBJECT))
        decision = limiter.hit(per_ip, ADDRESS, fail_open=True, read=read)
        if len(decision.read) != 7:
            raise RuntimeError("the per-user step did not run")
        return decision_of(per_user, [int(value or 0) for value in decision.read[3:]])

    return {"two round trips (before)": two_round_trips, "one round trip (after)": one_round_trip}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--per-round", type=int, default=200)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="retouch-bench-limits-") as temp:
        server = RedisServer(Path(temp) / "redis").start()
        try:
            client = redis.Redis.from_url(server.url)
            run = sides(client)
            for call in run.values():  # warm: the connection, both scripts loaded
                for _ in range(50):
                    call()
            lines = measure(run, args.rounds, args.per_round)
            client.close()
        finally:
            server.stop()
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
