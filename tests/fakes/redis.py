"""The few Redis commands our code sends, in memory: pub/sub `publish` (task announcements)
and what the provider guards use (`retouch.providers.guards`): strings with `set nx px`,
counters, hashes and lists in pipelines, key expiry, and the slot script (`eval`, run here
as the Python it stands for). `down = True` makes every command fail as a lost server does.

    redis = FakeRedis()
    context = StepContext(..., redis=as_client(redis), guards=ProviderGuards(as_client(redis)))
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, cast

import redis as redis_py

from retouch.core.redis import RedisClient
from retouch.providers import guards


def as_client(fake: FakeRedis) -> RedisClient:
    """The fake where a client is typed (it answers the calls our code makes)."""
    return cast(RedisClient, fake)


class FakeRedis:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.values: dict[str, Any] = {}
        self.expires_at: dict[str, float] = {}
        self.published: list[tuple[str, str]] = []
        self.down = False

    # --- pub/sub -----------------------------------------------------------------------------

    def publish(self, channel: str, message: str) -> int:
        self._check()
        self.published.append((channel, message))
        return 0

    # --- keys and strings --------------------------------------------------------------------

    def exists(self, *keys: str) -> int:
        self._check()
        return sum(self._get(key) is not None for key in keys)

    def get(self, key: str) -> Any:
        self._check()
        return self._get(key)

    def set(self, key: str, value: Any, *, px: int | None = None, nx: bool = False) -> bool | None:
        self._check()
        if nx and self._get(key) is not None:
            return None
        self._put(key, str(value), px)
        return True

    def delete(self, *keys: str) -> int:
        self._check()
        return sum(self._drop(key) for key in keys)

    def incr(self, key: str) -> int:
        self._check()
        value = int(self._get(key) or 0) + 1
        self.values[key] = str(value)
        return value

    def pexpire(self, key: str, ms: int, *, nx: bool = False) -> bool:
        self._check()
        if self._get(key) is None or (nx and key in self.expires_at):
            return False
        self.expires_at[key] = self.clock() + ms / 1000
        return True

    def expire(self, key: str, seconds: int) -> bool:
        return self.pexpire(key, seconds * 1000)

    # --- hashes, lists, sorted sets -----------------------------------------------------------

    def hincrby(self, key: str, field: str, amount: int = 1) -> int:
        self._check()
        found: dict[str, str] = self._get(key) or {}
        found[field] = str(int(found.get(field, 0)) + amount)
        self.values[key] = found
        return int(found[field])

    def lpush(self, key: str, *items: str) -> int:
        self._check()
        found: list[str] = self._get(key) or []
        self.values[key] = [*reversed(items), *found]
        return len(self.values[key])

    def ltrim(self, key: str, start: int, end: int) -> bool:
        self._check()
        found: list[str] = self._get(key) or []
        self.values[key] = found[start : end + 1]
        return True

    def zrem(self, key: str, *members: str) -> int:
        self._check()
        found: dict[str, float] = self._get(key) or {}
        return sum(found.pop(member, None) is not None for member in members)

    def slots(self, provider: str) -> frozenset[str]:
        """Who holds a concurrency slot of `provider` (for assertions)."""
        return frozenset(self._get(f"slots:{{{provider}}}") or {})

    def eval(self, script: str, numkeys: int, *keys_and_args: Any) -> int:
        """The guards' slot script (`guards._ACQUIRE`), the only one our code sends."""
        self._check()
        if script != guards._ACQUIRE:
            raise NotImplementedError("FakeRedis runs only the slot script")
        keys, (now, holder, limit, hold_ms) = keys_and_args[:numkeys], keys_and_args[numkeys:]
        if self._get(keys[1]) is not None:
            return -1  # the breaker is open: no slot touched
        key = keys[0]
        slots: dict[str, float] = {
            member: score for member, score in (self._get(key) or {}).items() if score > now
        }
        if holder not in slots and len(slots) >= int(limit):
            self.values[key] = slots
            return 0
        slots[holder] = now + int(hold_ms)
        self.values[key] = slots
        return 1

    def register_script(self, script: str) -> Callable[..., int]:
        """The guards' slot script as `register_script` gives it (EVALSHA)."""

        def run(keys: Sequence[str] = (), args: Sequence[Any] = ()) -> int:
            return self.eval(script, len(keys), *keys, *args)

        return run

    def pipeline(self, transaction: bool = True) -> FakePipeline:
        return FakePipeline(self)

    # --- the store -----------------------------------------------------------------------------

    def _check(self) -> None:
        if self.down:
            raise redis_py.exceptions.ConnectionError("fake Redis is down")

    def _get(self, key: str) -> Any:
        expires_at = self.expires_at.get(key)
        if expires_at is not None and expires_at <= self.clock():
            self._drop(key)
        return self.values.get(key)

    def _put(self, key: str, value: Any, px: int | None) -> None:
        self.values[key] = value
        self.expires_at.pop(key, None)
        if px is not None:
            self.expires_at[key] = self.clock() + px / 1000

    def _drop(self, key: str) -> bool:
        self.expires_at.pop(key, None)
        return self.values.pop(key, None) is not None


class FakePipeline:
    """Commands queued, then run in order by `execute` (which answers their results)."""

    def __init__(self, redis: FakeRedis) -> None:
        self._redis = redis
        self._queued: list[Callable[[], Any]] = []

    def __getattr__(self, name: str) -> Callable[..., FakePipeline]:
        command = getattr(self._redis, name)

        def queue(*args: Any, **kwargs: Any) -> FakePipeline:
            self._queued.append(lambda: command(*args, **kwargs))
            return self

        return queue

    def execute(self) -> list[Any]:
        self._redis._check()
        queued, self._queued = self._queued, []
        return [command() for command in queued]
