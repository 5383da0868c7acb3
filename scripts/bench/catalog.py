"""Benchmark: warm `GET /v1/features` (public, cached) against the bare app, one run.

    .venv/bin/python -m scripts.bench.catalog [--warm-calls N] [--warm-rounds N] [--warmup N]

Starts a private MariaDB and Redis (`temporary_servers`), migrates and seeds, then:

1. twice, tests/bench/invoke.py's warm mode: one fresh interpreter holding the catalog
   function and the bare FastAPI+Mangum app (tests/bench/bare_app.py: one Redis GET, also
   served at /v1/features), interleaved rounds of in-process invocations of an API Gateway
   REST v1 `GET /v1/features` event (events/catalog_aws_rest.json) through the real handlers:
   * with the in-process level warm (the default 3 s local TTL): the cache makes no round trip;
   * with only the Redis level (`RETOUCH_CACHE_LOCAL_TTL_S=1e-9`): one MGET per request, the
     bare app's one GET;
2. in this process, 1,000 warm invocations under each configuration, counting the commands
   the process sends to Redis (a wrapper on `redis.Redis.execute_command`): round trips per
   request, the per-IP rate limiter's EVALSHA apart from the cache's;
3. the stampede of scripts/bench/cache.py (200 threads x 5 reads of a cold key, 1 and 8
   instances sharing Redis) over the catalog's real loader: database loads per 1,000 requests.

Prints tables and a verdict against the targets (warm p50 ≤ 1.5x bare with the Redis level;
no cache round trip with the in-process level) and always exits 0: a measurement, not a
test. Results are in docs/performance.md ("Catalog").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scripts.bench.health import (
    LAYER,
    ROOT,
    child_env,
    percentile,
    prepare_servers,
    run_warm,
    warm_argument_parser,
)
from scripts.local.servers import temporary_servers

# `python -m scripts.bench.catalog` from the checkout: the layer is what /opt/python is on Lambda.
sys.path.insert(0, str(LAYER))

OURS = ROOT / "functions" / "http" / "catalog" / "app.py"
EVENT = ROOT / "events" / "catalog_aws_rest.json"
WARM_TARGET = 1.5
COUNTED_CALLS = 1000
#: Environment of each configuration measured.
CONFIGURATIONS: dict[str, dict[str, str]] = {
    "in-process level": {},
    "Redis level": {"RETOUCH_CACHE_LOCAL_TTL_S": "1e-9"},
}
LIMITER_COMMANDS = {"evalsha", "eval"}


def warm_samples(work: Path, env: dict[str, str], args: argparse.Namespace, name: str) -> Any:
    per_round = max(1, args.warm_calls // args.warm_rounds)
    print(f"warm ({name}): {args.warm_rounds} rounds x {per_round} calls …", file=sys.stderr)
    result = run_warm(
        OURS,
        EVENT,
        work,
        env,
        warmup=args.warmup,
        rounds=args.warm_rounds,
        per_round=per_round,
        name=f"warm-{name.split()[0]}",
    )
    return result["samples_ns"]


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Send fd 1 to /dev/null: the function's log lines and metrics are not the report."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "wb") as devnull:
        os.dup2(devnull.fileno(), 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


@contextmanager
def counting_commands() -> Iterator[Counter[str]]:
    """Count the commands this process sends to Redis (round trips; the commands a Lua
    script runs inside Redis are not sent, so the limiter's EVALSHA counts once)."""
    import redis

    sent: Counter[str] = Counter()
    original: Callable[..., Any] = redis.Redis.execute_command

    def counted(self: redis.Redis, *args: Any, **options: Any) -> Any:
        sent[str(args[0]).lower()] += 1
        return original(self, *args, **options)

    redis.Redis.execute_command = counted  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        redis.Redis.execute_command = original  # type: ignore[method-assign]


def commands_per_request(overrides: dict[str, str]) -> dict[str, float]:
    """Redis commands sent per warm invocation of the catalog handler, by command name."""
    from retouch.bootstrap.clients import reset_clients
    from scripts.local.lambda_runtime import FakeLambdaContext, load_function

    os.environ.update(overrides)
    reset_clients()
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = load_function(OURS).handler
    event, context = json.loads(EVENT.read_text()), FakeLambdaContext()
    with quiet_stdout():
        for _ in range(50):
            handler(event, context)
        with counting_commands() as sent:
            statuses = [handler(event, context)["statusCode"] for _ in range(COUNTED_CALLS)]
    for name in overrides:
        os.environ.pop(name)
    reset_clients()
    if set(statuses) != {200}:
        raise RuntimeError(f"counted invocations did not all answer 200: {set(statuses)}")
    return {name: count / COUNTED_CALLS for name, count in sent.items()}


def stampede_loads() -> dict[int, float]:
    """scripts/bench/cache's stampede over the catalog's real loader, 1 and 8 instances."""
    from retouch.catalog.public import FeatureList, _load_enabled
    from retouch.core.db import get_database
    from scripts.bench.cache import INSTANCES, READS_PER_THREAD, THREADS, new_cache, stampede

    def load() -> Any:
        return FeatureList(items=_load_enabled(get_database(), "en")).items

    requests = THREADS * READS_PER_THREAD
    return {
        count: stampede([new_cache() for _ in range(count)], load) * 1000 / requests
        for count in (1, INSTANCES)
    }


def report(
    samples: dict[str, Any],
    commands: dict[str, dict[str, float]],
    loads: dict[int, float],
    args: argparse.Namespace,
) -> str:
    lines = [
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
        f"warm: {args.warm_calls} calls per app and configuration in one process after "
        f"{args.warmup} warm-up calls each, {args.warm_rounds} interleaved rounds; "
        "event: REST v1 GET /v1/features",
        "",
        "| configuration | metric | retouch catalog | bare FastAPI+Mangum | ratio | target |",
        "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    verdicts = []
    for name, sides in samples.items():
        ours, bare = ([ns / 1000 for ns in sides[side]] for side in ("ours", "bare"))
        for q in (50, 90, 99):
            mine, theirs = percentile(ours, q), percentile(bare, q)
            ratio = mine / theirs
            target = f"≤ {WARM_TARGET}×" if q == 50 else ""
            lines.append(
                f"| {name} | p{q} | {mine:.0f} µs | {theirs:.0f} µs | {ratio:.2f}× | {target} |"
            )
            if q == 50:
                verdicts.append(
                    f"{name}: warm p50 {ratio:.2f}× ({'pass' if ratio <= WARM_TARGET else 'FAIL'})"
                )
    lines += [
        "",
        f"Redis commands sent per request ({COUNTED_CALLS} warm invocations):",
        "",
        "| configuration | cache | rate limiter (EVALSHA) | all |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, counts in commands.items():
        limiter = sum(n for command, n in counts.items() if command in LIMITER_COMMANDS)
        cache = {c: n for c, n in counts.items() if c not in LIMITER_COMMANDS and n}
        listed = ", ".join(f"{c} {n:.3f}" for c, n in sorted(cache.items())) or "none"
        total = sum(counts.values())
        lines.append(
            f"| {name} | {sum(cache.values()):.3f} ({listed}) | {limiter:.3f} | {total:.3f} |"
        )
    local_cache = sum(
        n for c, n in commands["in-process level"].items() if c not in LIMITER_COMMANDS
    )
    verdicts.append(
        f"in-process level: {local_cache:.3f} cache commands per request "
        f"({'pass' if local_cache == 0 else 'FAIL'}: target none)"
    )
    lines += [
        "",
        "stampede (scripts/bench/cache.stampede, catalog loader): "
        "200 threads x 5 reads of a cold key",
        "",
        "| instances | database loads per 1,000 requests |",
        "| --- | ---: |",
        *(f"| {count} | {per_thousand:.1f} |" for count, per_thousand in loads.items()),
        "",
        "verdict: " + "; ".join(verdicts),
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = warm_argument_parser(__doc__).parse_args(argv)
    with temporary_servers("retouch-bench-catalog-") as (mariadb, redis, work):
        env = child_env({**mariadb.env(), **redis.env()})
        prepare_servers(env)
        samples = {
            name: warm_samples(work, {**env, **overrides}, args, name)
            for name, overrides in CONFIGURATIONS.items()
        }
        commands = {
            name: commands_per_request(overrides) for name, overrides in CONFIGURATIONS.items()
        }
        loads = stampede_loads()
    print(report(samples, commands, loads, args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
