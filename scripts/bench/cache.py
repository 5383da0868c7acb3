"""Benchmark: what `Cache.get_or_load` costs per level, and loads during a stampede, one run.

    .venv/bin/python -m scripts.bench.cache [--calls 20000] [--rounds 5] [--load-ms 20]

Starts a private MariaDB and Redis (`temporary_servers`), then in this one process:

* p50/p99 of `get_or_load` of a warm key served by the in-process level (no round trip);
* the same with only the Redis level warm (a local TTL of 1 ns: every call is one MGET and a
  JSON decode), beside a bare `GET` of the same value on the same client and the loader
  itself (one SELECT through `get_database().read_only()`, made to take `--load-ms`);
* a stampede: 200 threads × 5 reads of a cold key (1,000 requests), with one instance and
  with eight (separate in-process levels sharing Redis: the Redis lock's part), repeated
  `--rounds` times; reported as loader calls per 1,000 requests.

The value is a list of five feature-like pydantic models. A measurement, not a test: it
always exits 0. Results are in docs/performance.md ("Cache").
"""

# ruff: noqa: E402 - the layer goes on sys.path before `retouch` is imported

from __future__ import annotations

import argparse
import os
import platform
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "layers" / "retouch"))

from pydantic import BaseModel

from retouch.bootstrap.clients import reset_clients
from retouch.cache import Cache, CacheConfig, CacheKey, JsonCodec
from retouch.cache.keys import value_key
from retouch.cache.redis_level import RedisLevel
from retouch.core.db import get_database
from retouch.core.redis import get_redis
from scripts.bench.health import percentile
from scripts.local.servers import temporary_servers

THREADS = 200
READS_PER_THREAD = 5
INSTANCES = 8


class Feature(BaseModel):
    key: str
    name: str
    description: str
    cost: int
    enabled: bool


FEATURES = JsonCodec[list[Feature]](list[Feature])
KEYS = ("cutout", "eraser", "outfit", "faceswap", "outpaint")


def loader(load_s: float) -> Callable[[], list[Feature] | None]:
    def load() -> list[Feature] | None:
        with get_database().read_only() as uow:
            uow.fetch_one("SELECT SLEEP(%s) AS slept", (load_s,))
        return [
            Feature(
                key=key, name=key.title(), description=f"The {key} feature.", cost=2, enabled=True
            )
            for key in KEYS
        ]

    return load


def new_cache(**config: float) -> Cache:
    settings = CacheConfig(**config)  # type: ignore[arg-type]
    return Cache(RedisLevel(get_redis(), lock_timeout_s=5, lock_wait_s=2), settings)


def timed(call: Callable[[], object], count: int) -> list[float]:
    """Microseconds of each of `count` calls."""
    samples = []
    for _ in range(count):
        started = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - started) / 1000)
    return samples


def stampede(instances: list[Cache], load: Callable[[], list[Feature] | None]) -> int:
    """1,000 reads of one cold key by 200 threads; how many reached the loader."""
    key = CacheKey(f"bench{uuid.uuid4().hex[:12]}", "features")
    loads = [0]
    lock = threading.Lock()

    def counted() -> list[Feature] | None:
        with lock:
            loads[0] += 1
        return load()

    start = threading.Barrier(THREADS)

    def reader(index: int) -> None:
        start.wait()
        for _ in range(READS_PER_THREAD):
            instances[index % len(instances)].get_or_load(key, counted, codec=FEATURES)

    threads = [threading.Thread(target=reader, args=(index,)) for index in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return loads[0]


def row(name: str, samples: list[float], base: float) -> str:
    p50, p99 = percentile(samples, 50), percentile(samples, 99)
    return f"| {name} | {p50:,.1f} | {p99:,.1f} | {p50 / base:.2f}x |"


def measure(args: argparse.Namespace) -> None:
    load = loader(args.load_ms / 1000)
    local = new_cache()
    redis_only = new_cache(local_ttl_s=1e-9)
    key = CacheKey("bench", "features")
    local.get_or_load(key, load, codec=FEATURES)
    redis_only.get_or_load(key, load, codec=FEATURES)
    redis_key = value_key(key, 0)
    warmup = max(1, args.calls // 10)
    for call in (
        lambda: local.get_or_load(key, load, codec=FEATURES),
        lambda: redis_only.get_or_load(key, load, codec=FEATURES),
        lambda: get_redis().get(redis_key),
    ):
        timed(call, warmup)
    samples: dict[str, list[float]] = {"local": [], "redis": [], "get": [], "load": []}
    for _ in range(args.rounds):  # interleaved, so drift hits every side alike
        samples["local"] += timed(
            lambda: local.get_or_load(key, load, codec=FEATURES), args.calls // args.rounds
        )
        samples["redis"] += timed(
            lambda: redis_only.get_or_load(key, load, codec=FEATURES), args.calls // args.rounds
        )
        samples["get"] += timed(lambda: get_redis().get(redis_key), args.calls // args.rounds)
        samples["load"] += timed(load, 10)
    single = sum(stampede([new_cache()], load) for _ in range(args.rounds))
    several = sum(
        stampede([new_cache() for _ in range(INSTANCES)], load) for _ in range(args.rounds)
    )
    requests = args.rounds * THREADS * READS_PER_THREAD

    base = percentile(samples["get"], 50)
    load_average = " ".join(f"{value:.2f}" for value in os.getloadavg())
    value_bytes = len(FEATURES.encode(load() or []))
    print(
        f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs, ",
        end="",
    )
    print(f"load average {load_average}; {args.calls} calls per side in {args.rounds} ", end="")
    print(f"interleaved rounds; the value: 5 models, {value_bytes} bytes of JSON")
    print()
    print("| get_or_load served by | p50 µs | p99 µs | p50 vs one Redis GET |")
    print("|---|---|---|---|")
    print(row("in-process level (0 round trips)", samples["local"], base))
    print(row("Redis level (1 MGET + decode)", samples["redis"], base))
    print(row("bare redis GET of the same value", samples["get"], base))
    print(row(f"the loader (SELECT, {args.load_ms} ms)", samples["load"], base))
    print()
    print(f"stampede: {THREADS} threads x {READS_PER_THREAD} reads of a cold key, ", end="")
    print(f"{args.rounds} rounds")
    print("| instances | loads per 1,000 requests |")
    print("|---|---|")
    print(f"| 1 | {single * 1000 / requests:.1f} |")
    print(f"| {INSTANCES} sharing Redis | {several * 1000 / requests:.1f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--load-ms", type=int, default=20)
    args = parser.parse_args(argv)
    with temporary_servers("retouch-bench-cache-") as (mariadb, redis, _):
        os.environ.update({**mariadb.env(), **redis.env()})
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "false"
        reset_clients()
        try:
            measure(args)
        finally:
            reset_clients()
    return 0


if __name__ == "__main__":
    sys.exit(main())
