"""Per-provider guards shared by every step function through Redis: a circuit breaker, a
concurrency limit, and the health figures operators read.

- **Breaker**: failures of a provider are counted in a window (`breaker:{p}:failures`, TTL
  `window_s`); at `threshold` the breaker opens (`breaker:{p}:open`, TTL `cooldown_s`) and
  the engine skips the provider — the next one of the chain serves — until the key expires;
  the first job after that is the trial. A success clears the count.
- **Concurrency**: a sorted set of the jobs holding a slot (`slots:{p}`, score = the slot's
  expiry, so a crashed holder's slot frees itself); acquiring is one script (drop expired
  slots, count, add), so two instances never both take the last slot. `take_slot` asks the
  breaker in the same script: an open breaker answers before any slot is touched, so the
  engine learns both in one round trip and an open breaker never holds a slot.

- **Health**: each vendor job's end is counted per minute (`health:{p}:<minute>`, a hash of
  `ok`/`failed`, kept for the window) with its latency, submit to result, in a capped list
  (`health:{p}:latency`, the last 200 samples); `health()` sums the window (15 minutes) for
  the admin API, with the breaker's and the slots' state.

Redis down: both guards let the job through (logged): losing Redis must not stop the pipeline,
and the vendor's own 429 still protects it.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass
from typing import Literal

import redis

from retouch.core.logging import logger
from retouch.core.redis import RedisClient
from retouch.providers.metrics import count_breaker_opened

_ACQUIRE = """
if redis.call('EXISTS', KEYS[2]) == 1 then
  return -1
end
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
  return 1
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]) + 1000)
return 1
"""


#: What `take_slot` answers: a slot taken (or renewed), every slot held, or the breaker open
#: (no slot touched).
SlotAnswer = Literal["taken", "full", "breaker open"]
_ANSWERS: dict[int, SlotAnswer] = {1: "taken", 0: "full", -1: "breaker open"}

#: The span of the health figures, seconds; counted in one-minute buckets.
HEALTH_WINDOW_S = 900
_BUCKET_S = 60
_LATENCY_SAMPLES = 200


@dataclass(frozen=True, slots=True)
class ProviderHealth:
    """A provider's last `HEALTH_WINDOW_S`: jobs that ended well or not, their latency
    (submit to result; None without samples), and the guards' state now."""

    succeeded: int
    failed: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    breaker_open: bool
    recent_failures: int
    slots_in_use: int


@dataclass(frozen=True, slots=True)
class BreakerConfig:
    threshold: int = 5
    window_s: float = 60.0
    cooldown_s: float = 30.0


class ProviderGuards:
    """The breaker and the concurrency slots of every provider, in one Redis."""

    def __init__(self, client: RedisClient, config: BreakerConfig | None = None) -> None:
        self._redis = client
        self._config = config or BreakerConfig()
        self._acquire = client.register_script(_ACQUIRE)  # hashes locally: EVALSHA, no body

    # --- breaker ---------------------------------------------------------------------------

    def failed(self, provider: str) -> bool:
        """Count a failure; True when this one opened the breaker."""
        config = self._config
        try:
            key = f"breaker:{{{provider}}}:failures"
            pipe = self._redis.pipeline()
            pipe.incr(key)
            pipe.pexpire(key, int(config.window_s * 1000), nx=True)
            count = int(pipe.execute()[0])
            if count < config.threshold:
                return False
            opened = bool(
                self._redis.set(
                    f"breaker:{{{provider}}}:open", "1", px=int(config.cooldown_s * 1000), nx=True
                )
            )
            self._redis.delete(key)
        except redis.RedisError as exc:
            logger.warning("breaker not updated: Redis failed", extra={"error": type(exc).__name__})
            return False
        if opened:
            logger.warning("provider breaker opened", extra={"provider": provider})
            count_breaker_opened(provider=provider)
        return opened

    def succeeded(self, provider: str) -> None:
        with contextlib.suppress(redis.RedisError):
            self._redis.delete(f"breaker:{{{provider}}}:failures")

    # --- concurrency -----------------------------------------------------------------------

    def take_slot(self, provider: str, holder: str, *, limit: int, hold_s: float) -> SlotAnswer:
        """Take (or renew) a slot for `holder` for `hold_s`: "full" when `limit` are held,
        "breaker open" (no slot touched) when the provider's breaker is; one round trip."""
        keys = [f"slots:{{{provider}}}", f"breaker:{{{provider}}}:open"]
        try:
            answer = self._acquire(
                keys=keys, args=[int(time.time() * 1000), holder, limit, int(hold_s * 1000)]
            )
        except redis.RedisError as exc:
            # Neither guard is known: the job goes through (the module's rule for Redis down).
            logger.warning("slot not checked: Redis failed", extra={"error": type(exc).__name__})
            return "taken"
        return _ANSWERS[int(answer)]

    def release(self, provider: str, holder: str) -> None:
        with contextlib.suppress(redis.RedisError):
            self._redis.zrem(f"slots:{{{provider}}}", holder)

    def job_succeeded(self, provider: str, holder: str) -> None:
        """A job of `provider` succeeded: `holder`'s slot back and the breaker's failure
        count cleared, in one round trip."""
        with contextlib.suppress(redis.RedisError):
            pipe = self._redis.pipeline(transaction=False)
            pipe.zrem(f"slots:{{{provider}}}", holder)
            pipe.delete(f"breaker:{{{provider}}}:failures")
            pipe.execute()

    # --- health ----------------------------------------------------------------------------

    def record(self, provider: str, *, ok: bool, latency_ms: float | None = None) -> None:
        """Count one job of `provider` that ended (`ok`) or failed, with its latency."""
        now = time.time()
        bucket = f"health:{{{provider}}}:{int(now // _BUCKET_S)}"
        samples = f"health:{{{provider}}}:latency"
        try:
            pipe = self._redis.pipeline(transaction=False)
            pipe.hincrby(bucket, "ok" if ok else "failed", 1)
            pipe.expire(bucket, HEALTH_WINDOW_S + _BUCKET_S)
            if latency_ms is not None:
                pipe.lpush(samples, f"{now:.3f}:{latency_ms:.1f}")
                pipe.ltrim(samples, 0, _LATENCY_SAMPLES - 1)
                pipe.expire(samples, HEALTH_WINDOW_S)
            pipe.execute()
        except redis.RedisError as exc:
            logger.warning("health not recorded: Redis failed", extra={"error": type(exc).__name__})

    def health(self, provider: str) -> ProviderHealth:
        """The provider's figures over the window and its guards now (RedisError escapes:
        the admin API answers 503 rather than a health it does not know)."""
        now = time.time()
        last = int(now // _BUCKET_S)
        buckets = range(last - HEALTH_WINDOW_S // _BUCKET_S + 1, last + 1)
        pipe = self._redis.pipeline(transaction=False)
        for bucket in buckets:
            pipe.hgetall(f"health:{{{provider}}}:{bucket}")
        pipe.lrange(f"health:{{{provider}}}:latency", 0, -1)
        pipe.exists(f"breaker:{{{provider}}}:open")
        pipe.get(f"breaker:{{{provider}}}:failures")
        pipe.zcount(f"slots:{{{provider}}}", f"({int(now * 1000)}", "+inf")
        *counts, samples, is_open, failures, slots = pipe.execute()
        latencies = sorted(
            float(latency)
            for stamp, _, latency in (str(sample).partition(":") for sample in samples)
            if float(stamp) >= now - HEALTH_WINDOW_S
        )
        return ProviderHealth(
            succeeded=sum(int(count.get("ok", 0)) for count in counts),
            failed=sum(int(count.get("failed", 0)) for count in counts),
            latency_p50_ms=_percentile(latencies, 0.50),
            latency_p95_ms=_percentile(latencies, 0.95),
            breaker_open=bool(is_open),
            recent_failures=int(failures or 0),
            slots_in_use=int(slots),
        )


def _percentile(ordered: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of an ordered list; None when it is empty."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]
