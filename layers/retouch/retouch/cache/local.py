"""The in-process level: a small LRU with expiry, and single-flight for loads.

A function instance serves one request at a time, but the local gateway (and a bench) runs
threads, so both structures are thread-safe.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class LocalEntry(Generic[V]):
    """A value (None: known absent) and when it stops being served."""

    value: V
    expires_at: float


class LocalCache(Generic[V]):
    """At most `max_entries` entries; the least recently used goes first; expired ones are
    never returned."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, LocalEntry[V]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, now: float) -> LocalEntry[V] | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if now >= entry.expires_at:
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key: Hashable, value: V, expires_at: float) -> None:
        with self._lock:
            self._entries[key] = LocalEntry(value, expires_at)
            self._entries.move_to_end(key)
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def drop_where(self, predicate: Callable[[Hashable], bool]) -> None:
        """Forget every entry whose key matches (invalidation; rare, so a scan is fine)."""
        with self._lock:
            for key in [key for key in self._entries if predicate(key)]:
                del self._entries[key]


@dataclass
class _Call:
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class SingleFlight:
    """Concurrent calls with the same key share one execution (Go's x/sync/singleflight):
    the first runs `fn`, the others wait for it and get its result or its exception."""

    def __init__(self) -> None:
        self._calls: dict[Hashable, _Call] = {}
        self._lock = threading.Lock()

    def do(self, key: Hashable, fn: Callable[[], V]) -> V:
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = _Call()
        if not leader:
            call.done.wait()
            if call.error is not None:
                raise call.error
            result: V = call.result
            return result
        try:
            call.result = fn()
            return call.result  # type: ignore[no-any-return]
        except BaseException as exc:
            call.error = exc
            raise
        finally:
            with self._lock:
                del self._calls[key]
            call.done.set()
