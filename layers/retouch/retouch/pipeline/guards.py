"""Per-provider guards shared by every step function through Redis: a circuit breaker and a
concurrency limit.

- **Breaker**: failures of a provider are counted in a window (`breaker:{p}:failures`, TTL
  `window_s`); at `threshold` the breaker opens (`breaker:{p}:open`, TTL `cooldown_s`) and
  the engine skips the provider — the next one of the chain serves — until the key expires;
  the first job after that is the trial. A success clears the count.
- **Concurrency**: a sorted set of the jobs holding a slot (`slots:{p}`, score = the slot's
  expiry, so a crashed holder's slot frees itself); acquiring is one script (drop expired
  slots, count, add), so two instances never both take the last slot.

Redis down: both guards let the job through (logged): losing Redis must not stop the pipeline,
and the vendor's own 429 still protects it.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

import redis

from retouch.core.logging import logger
from retouch.core.redis import RedisClient

_ACQUIRE = """
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

    # --- breaker ---------------------------------------------------------------------------

    def is_open(self, provider: str) -> bool:
        try:
            return bool(self._redis.exists(f"breaker:{{{provider}}}:open"))
        except redis.RedisError as exc:
            logger.warning("breaker unknown: Redis failed", extra={"error": type(exc).__name__})
            return False

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
        return opened

    def succeeded(self, provider: str) -> None:
        with contextlib.suppress(redis.RedisError):
            self._redis.delete(f"breaker:{{{provider}}}:failures")

    # --- concurrency -----------------------------------------------------------------------

    def acquire(self, provider: str, holder: str, *, limit: int, hold_s: float) -> bool:
        """Take (or renew) a slot for `holder` for `hold_s`; False when `limit` are held."""
        try:
            taken = self._redis.eval(
                _ACQUIRE,
                1,
                f"slots:{{{provider}}}",
                int(time.time() * 1000),
                holder,
                limit,
                int(hold_s * 1000),
            )
        except redis.RedisError as exc:
            logger.warning("slot not checked: Redis failed", extra={"error": type(exc).__name__})
            return True
        return bool(taken)

    def release(self, provider: str, holder: str) -> None:
        with contextlib.suppress(redis.RedisError):
            self._redis.zrem(f"slots:{{{provider}}}", holder)
