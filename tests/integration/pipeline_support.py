"""Helpers of the engine tests: an in-memory queue behind the queue port (messages are run
at once, delays ignored, so a test does not sleep through backoffs), a scheduled one whose
delays pass on a clock that runs fast while nothing is due, scripted providers behind the
provider port, and an engine wired to real MariaDB, Redis and a local storage."""

from __future__ import annotations

import heapq
import itertools
import secrets
import time
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from retouch.core.db import get_database
from retouch.core.redis import get_redis
from retouch.core.time import Clock, utc_now
from retouch.pipeline.engine import Engine, Fetcher, StepContext
from retouch.pipeline.sources import ProviderSource
from retouch.providers.guards import BreakerConfig, ProviderGuards
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
from retouch.queue.depth import QueueDepth
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

    def depth(self, queue: str) -> QueueDepth:
        raise NotImplementedError


class FastClock:
    """A `Clock` running with real time, plus whatever `skip` added: time a test need not wait
    through (backoffs, poll delays, step deadlines) while real peers keep real time."""

    def __init__(self) -> None:
        self.skipped = timedelta()

    def __call__(self) -> datetime:
        return utc_now() + self.skipped

    def skip(self, seconds: float) -> None:
        self.skipped += timedelta(seconds=seconds)


class ScheduledQueue(MemoryQueue):
    """The queue port in memory with its delays kept: a message is due `delay_s` after its
    publication on `clock`; `run_scheduled` hands them to the engine in due order."""

    def __init__(self, clock: FastClock) -> None:
        super().__init__()
        self.clock = clock
        self.due: list[tuple[datetime, int, dict[str, Any]]] = []
        self._order = itertools.count()

    def publish(self, queue: str, body: dict[str, Any], *, delay_s: float = 0) -> str:
        message_id = super().publish(queue, body, delay_s=delay_s)
        self.sent.pop()  # kept in `due` instead
        due = self.clock() + timedelta(seconds=delay_s)
        heapq.heappush(self.due, (due, next(self._order), body))
        return message_id


def run_scheduled(
    engine: Engine, queue: ScheduledQueue, *, real_share: float = 0.1, limit: int = 10_000
) -> int:
    """Run every message in due order until none is left; returns how many were run. When the
    next one is not due yet, a `real_share` of the wait passes in real time (so real peers such
    as a vendor's jobs progress) and the rest is skipped on the clock."""
    run = 0
    while queue.due:
        due, _, body = heapq.heappop(queue.due)
        wait = (due - queue.clock()).total_seconds()
        if wait > 0:
            time.sleep(wait * real_share)
            queue.clock.skip(max(0.0, (due - queue.clock()).total_seconds()))
        engine.handle(dict(body))
        run += 1
        assert run < limit, "the pipeline did not settle"
    return run


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
    #: Every job submitted, in order.
    jobs: list[JobInput] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._left = list(self.script)
        # Vendor handles are unique per vendor, across every test of the shared database.
        self._run = secrets.token_hex(4)

    def handle(self, n: int) -> str:
        """The handle of this provider's `n`-th job (1 = the first)."""
        return f"{self.key}-{self._run}-{n}"

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
        self.jobs.append(job)
        status = self._next()
        return Submitted(
            handle=self.handle(self.submits),
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


def product_picture(side: int = 120) -> bytes:
    """The `local` product sample scaled to `side` px, as PNG: real content, which `local`
    edits in milliseconds."""
    import cv2
    import numpy as np

    from retouch.providers.local.samples import sample_images

    image = cv2.imdecode(np.frombuffer(sample_images()["product"], np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    ok, encoded = cv2.imencode(".png", cv2.resize(image, (side, side)))
    assert ok
    return bytes(encoded)


def local_storage(root: Path, *, base_url: str = "http://127.0.0.1:8000/_storage") -> LocalStorage:
    """A local storage under `root` whose presigned URLs start with `base_url`."""
    return LocalStorage(
        root=root,
        base_url=base_url,
        signer=Signer(b"pipeline-test-signing-key-0123456789abcdef"),
    )


def make_engine(
    root: Path,
    providers: ProviderSource,
    queue: MemoryQueue,
    *,
    threshold: int = 100,
    normalize: Callable[[bytes], bytes] = lambda data: data,
    storage: LocalStorage | None = None,
    fetch: Fetcher = lambda url, provider: b"",
    clock: Clock = utc_now,
    callback_base_url: str | None = None,
) -> Engine:
    return Engine(
        StepContext(
            database=get_database("steps"),  # as `bootstrap.engine` builds it
            redis=get_redis(),
            queue=queue,
            storage=storage or local_storage(root),
            providers=providers,
            guards=ProviderGuards(get_redis(), BreakerConfig(threshold=threshold)),
            normalize=normalize,
            fetch=fetch,
            clock=clock,
            callback_base_url=callback_base_url,
        )
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


def task_steps(task_id: str) -> list[dict[str, Any]]:
    """The task's rows in `task_steps` in step order: step, status, provider_key, fallbacks."""
    with get_database().unit_of_work() as uow:
        return uow.fetch_all(
            "SELECT s.step, s.status, s.provider_key, s.fallbacks FROM task_steps s "
            "JOIN tasks t ON t.id = s.task_id WHERE t.public_id = %s ORDER BY s.step_index",
            (task_id,),
        )
