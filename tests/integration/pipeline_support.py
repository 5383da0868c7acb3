"""Helpers of the engine tests: an in-memory queue behind the queue port (messages are run
at once, delays ignored, so a test does not sleep through backoffs), scripted providers
behind the provider port, and an engine wired to real MariaDB, Redis and a local storage."""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.pipeline.engine import Engine
from retouch.pipeline.guards import BreakerConfig, ProviderGuards
from retouch.providers.port import (
    CallbackEvent,
    InvalidCallback,
    JobInput,
    JobStatus,
    Output,
    Provider,
    ProviderError,
    Submitted,
)
from retouch.queue import DeadMessage, Delivery
from retouch.storage import LocalStorage, Signer
from tests.unit.image_support import png

PNG = png(4, 3)


class MemoryQueue:
    """The queue port in memory: publish appends; `drain` hands bodies to the engine."""

    def __init__(self) -> None:
        self.sent: deque[tuple[str, dict[str, Any]]] = deque()
        self.published: list[tuple[str, dict[str, Any], float]] = []
        self._ids = itertools.count(1)

    def publish(self, queue: str, body: dict[str, Any], *, delay_s: float = 0) -> str:
        self.sent.append((queue, body))
        self.published.append((queue, body, delay_s))
        return str(next(self._ids))

    def receive(self, queue: str, *, max_messages: int = 10, wait_s: float = 0) -> list[Delivery]:
        raise NotImplementedError

    def ack(self, delivery: Delivery) -> bool:
        raise NotImplementedError

    def retry_later(self, delivery: Delivery, delay_s: float = 0) -> bool:
        raise NotImplementedError

    def list_dead(self, queue: str, limit: int = 100) -> list[DeadMessage]:
        raise NotImplementedError

    def redrive(self, queue: str, message_ids: Collection[str] | Literal["all"]) -> int:
        raise NotImplementedError


Behaviour = ProviderError | bytes | Literal["pending", "empty"]


@dataclass
class ScriptedProvider:
    """A vendor whose answers follow a script: each submit takes the next behaviour (an error
    to raise, result bytes, `pending` for an asynchronous job, `empty` for no output); a poll
    of a pending job takes the next one too."""

    key: str
    script: Sequence[Behaviour]
    in_process: bool = False
    result_hosts: frozenset[str] = frozenset()
    submits: int = 0
    polls: int = 0
    canceled: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._left = list(self.script)

    def _next(self) -> JobStatus:
        behaviour = self._left.pop(0) if self._left else PNG
        if isinstance(behaviour, ProviderError):
            raise behaviour
        if behaviour == "pending":
            return JobStatus(state="pending")
        if behaviour == "empty":
            return JobStatus(state="succeeded", outputs=())
        assert isinstance(behaviour, bytes)
        return JobStatus(state="succeeded", outputs=(Output(data=behaviour),))

    def submit(self, job: JobInput) -> Submitted:
        self.submits += 1
        status = self._next()
        return Submitted(
            handle=f"{self.key}-{self.submits}",
            status=None if status.state == "pending" else status,
        )

    def poll(self, handle: str) -> JobStatus:
        self.polls += 1
        return self._next()

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackEvent:
        raise InvalidCallback("scripted providers send no callbacks")

    def cancel(self, handle: str) -> None:
        self.canceled.append(handle)


class Providers:
    """The provider source of a test: these providers, `limit` slots each."""

    def __init__(self, *providers: Provider, limit: int = 10) -> None:
        self._providers = {provider.key: provider for provider in providers}
        self._limit = limit

    def get(self, key: str) -> Provider | None:
        return self._providers.get(key)

    def limit(self, key: str) -> int:
        return self._limit


def make_engine(
    root: Path,
    providers: Providers,
    queue: MemoryQueue,
    *,
    threshold: int = 100,
    normalize: Callable[[bytes], bytes] = lambda data: data,
) -> Engine:
    storage = LocalStorage(
        root=root,
        base_url="http://127.0.0.1:8000/_storage",
        signer=Signer(b"pipeline-test-signing-key-0123456789abcdef"),
    )
    return Engine(
        database=get_database(),
        redis=get_redis(),
        queue=queue,
        storage=storage,
        providers=providers,
        guards=ProviderGuards(get_redis(), BreakerConfig(threshold=threshold)),
        normalize=normalize,
        fetch=lambda url, provider: b"",
    )


def drain(engine: Engine, queue: MemoryQueue, *, copies: int = 1, limit: int = 200) -> int:
    """Run every message the engine sends (each `copies` times: redelivery) until none is
    left; returns how many were run."""
    run = 0
    while queue.sent:
        _, body = queue.sent.popleft()
        for _ in range(copies):
            engine.handle(dict(body))
            run += 1
        assert run < limit, "the pipeline did not settle"
    return run
