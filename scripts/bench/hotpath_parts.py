"""Benchmark: the hot path's per-request parts that changed, each before and after, in one run.

    PYTHONPATH=layers/retouch .venv/bin/python -m scripts.bench.hotpath_parts > /dev/null

Interleaved rounds (`--rounds`, 1000 calls each, after a warm-up), no servers:

* the access token check: the full verification (the instance's table of verified tokens
  emptied before each call, as every request was before) against a token the instance has
  verified before;
* the access log line: Powertools' formatter reading the message with `json.loads` (a decode
  error raised and caught on every plain-text line, as before) against `json_message`.

The EMF line's before and after is `scripts/bench/metrics_cost.py` (Powertools' provider per
metric against the sink's one `json.dumps` per line). Log lines and EMF lines go to stdout
(point it at /dev/null); the table goes to stderr: each part's best round, p50 per call, and
the ratio. A measurement, not a test; results in docs/performance.md ("Hot path").
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from retouch.core import security
from retouch.core.logging import SERVICE, RedactingFormatter, json_message
from retouch.core.security import TokenConfig, issue_access_token, verify_access_token

Call = Callable[[], object]


def token_sides() -> dict[str, Call]:
    config = TokenConfig(
        keys={"k1": b"k" * 43}, active_kid="k1", issuer="retouch", audience="retouch-api",
        ttl_s=900,
    )  # fmt: skip
    token = issue_access_token(
        config=config, subject="usr_bench", role="user", session_id="ses_bench"
    ).token

    def full() -> object:
        security._verified.clear()
        return verify_access_token(token, config=config)

    return {
        "token check, full": full,
        "token check, remembered": lambda: verify_access_token(token, config=config),
    }


def log_sides() -> dict[str, Call]:
    def line(deserializer: Any) -> Call:
        log = logging.getLogger(f"bench.{deserializer is None}")
        log.propagate = False
        handler = logging.StreamHandler(io.StringIO())
        handler.setFormatter(
            RedactingFormatter(use_rfc3339=True, utc=True, json_deserializer=deserializer)
        )
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        extra = {"method": "GET", "route": "/v1/me", "status": 200, "latency_ms": 1.5,
                 "service": SERVICE, "user_id": "usr_bench"}  # fmt: skip

        def write() -> None:
            log.info("request", extra=extra)
            handler.stream.seek(0)
            handler.stream.truncate()

        return write

    return {"access line, json.loads": line(None), "access line, json_message": line(json_message)}


def measure(sides: dict[str, Call], rounds: int, calls: int) -> dict[str, list[float]]:
    """Each side's per-call µs in each round (rounds interleaved)."""
    for run in sides.values():
        for _ in range(calls):
            run()
    per_round: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(rounds):
        for name, run in sides.items():
            samples = []
            for _ in range(calls):
                started = time.perf_counter_ns()
                run()
                samples.append(time.perf_counter_ns() - started)
            per_round[name].append(statistics.median(samples) / 1000)
    return per_round


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args(argv)
    lines = [
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {args.rounds} "
        f"interleaved rounds of {args.calls} calls; p50 per call",
        "",
        "| part | before: best round | after: best round | after ÷ before |",
        "| --- | ---: | ---: | ---: |",
    ]
    for title, sides in (("token check", token_sides()), ("access line", log_sides())):
        before, after = measure(sides, args.rounds, args.calls).values()
        best_before, best_after = min(before), min(after)
        lines.append(
            f"| {title} | {best_before:.1f} µs | {best_after:.1f} µs "
            f"| {best_after / best_before:.2f}× |"
        )
    print("\n".join(lines), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
