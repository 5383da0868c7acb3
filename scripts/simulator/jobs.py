"""The simulator's jobs: what each one will do (a plan drawn from the run's seed), running it
in the server's event loop, and the signed callback at its end. The HTTP side is
`scripts/simulator/service.py`, which documents the protocol.

All job state is touched from the event loop only; the renderer runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import math
import random
import sys
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from retouch.providers.simulator import SIGNATURE_HEADER, TIMESTAMP_HEADER, callback_signature

Renderer = Callable[[str, Mapping[str, bytes], Mapping[str, Any]], bytes]

DEFAULT_CALLBACK_SECRET = "simulator-callback-secret"  # noqa: S105 - a local test tool's default
PENDING = frozenset({"queued", "running"})


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """The knobs of one run. Rates are fractions of jobs (or of polls) in [0, 1]."""

    latency_ms: tuple[float, float] = (0.0, 0.0)
    error_rate: float = 0.0
    hang_rate: float = 0.0
    # Fraction of polls answered 503 while the job itself goes on.
    poll_error_rate: float = 0.0
    # 429 RATE_LIMITED for `burst_for_s` at the start of every `burst_every_s` (0: never).
    burst_every_s: float = 0.0
    burst_for_s: float = 0.0
    concurrency: int = 4
    result_ttl_s: float = 600.0
    callback_secret: str = field(default=DEFAULT_CALLBACK_SECRET, repr=False)
    callback_attempts: int = 3
    callback_backoff_s: float = 0.2
    # None: any bearer key is accepted (a key must still be sent).
    api_key: str | None = field(default=None, repr=False)
    # Hosts besides loopback the simulator may fetch images from and call back.
    allow_hosts: frozenset[str] = frozenset()
    seed: int = 0
    fetch_timeout_s: float = 10.0


class JobFailure(Exception):
    """A job ends failed with this vendor code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Plan:
    """What a job will do, drawn from a RNG keyed by the run's seed and the client token, so a
    rerun with the same seed and tokens behaves the same."""

    latency_s: float
    hangs: bool
    fails: bool

    @classmethod
    def draw(cls, config: SimulatorConfig, client_token: str) -> Plan:
        rng = random.Random(f"{config.seed}:{client_token}")  # noqa: S311 - not cryptographic
        low, high = config.latency_ms
        return cls(
            latency_s=rng.uniform(low, high) / 1000,
            hangs=rng.random() < config.hang_rate,
            fails=rng.random() < config.error_rate,
        )


@dataclass(eq=False)
class Job:
    job_id: str
    client_token: str
    feature: str
    image_urls: dict[str, str]
    params: dict[str, Any]
    callback_url: str | None
    plan: Plan
    status: str = "queued"
    error: dict[str, str] | None = None
    results: list[bytes] = field(default_factory=list)
    finished_at: float | None = None
    polls: int = 0
    task: asyncio.Task[None] | None = None

    def view(self, base_url: str) -> dict[str, Any]:
        answer: dict[str, Any] = {"job_id": self.job_id, "status": self.status}
        if self.status == "succeeded":
            answer["result_urls"] = [
                f"{base_url}results/{self.job_id}/{index}" for index in range(len(self.results))
            ]
        if self.error is not None:
            answer["error"] = self.error
        return answer


def url_allowed(url: str, allow_hosts: frozenset[str]) -> bool:
    """http(s) on a loopback host or a host of `allow_hosts`: nothing else is ever requested."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return False
    if host in allow_hosts or host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class JobBook:
    """Every job of the run by id and by client token, and the tasks that run them."""

    def __init__(self, config: SimulatorConfig, renderer: Renderer) -> None:
        self.config = config
        self.renderer = renderer
        self.jobs: dict[str, Job] = {}
        self.by_token: dict[str, str] = {}
        self.started = time.monotonic()
        self.http: httpx.AsyncClient | None = None

    async def open(self) -> None:
        self.http = httpx.AsyncClient(timeout=self.config.fetch_timeout_s, follow_redirects=False)

    async def close(self) -> None:
        tasks = [job.task for job in self.jobs.values() if job.task and not job.task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.http is not None:
            await self.http.aclose()

    def burst_retry_after(self) -> int | None:
        """Seconds left of the current 429 burst, or None outside one."""
        every, length = self.config.burst_every_s, self.config.burst_for_s
        if every <= 0 or length <= 0:
            return None
        into = (time.monotonic() - self.started) % every
        return max(1, math.ceil(length - into)) if into < length else None

    def active(self) -> int:
        return sum(1 for job in self.jobs.values() if job.status in PENDING)

    def poll_fails(self, job: Job) -> bool:
        """Whether this poll of the job is answered 503 (deterministic per job and poll)."""
        job.polls += 1
        key = f"{self.config.seed}:{job.client_token}:poll:{job.polls}"
        return random.Random(key).random() < self.config.poll_error_rate  # noqa: S311

    def start(self, job: Job) -> None:
        self.jobs[job.job_id] = job
        self.by_token[job.client_token] = job.job_id
        job.task = asyncio.get_running_loop().create_task(self._run(job))

    def cancel(self, job: Job) -> None:
        if job.status in PENDING and job.task is not None:
            job.task.cancel()
            job.status = "canceled"
            job.error = {"code": "CANCELED", "message": "canceled by the client"}
            job.finished_at = time.monotonic()

    def expired(self, job: Job) -> bool:
        finished = job.finished_at
        return finished is not None and time.monotonic() - finished > self.config.result_ttl_s

    async def _run(self, job: Job) -> None:
        deadline = time.monotonic() + job.plan.latency_s
        job.status = "running"
        try:
            images = await self._fetch_images(job.image_urls)
            if job.plan.hangs:
                await asyncio.Event().wait()  # until canceled: a vendor that never answers
            if job.plan.fails:
                raise JobFailure("INTERNAL", "simulated vendor failure")
            image = await asyncio.to_thread(self._render, job, images)
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            job.results = [image]
            job.status = "succeeded"
        except JobFailure as failure:
            await asyncio.sleep(max(0.0, deadline - time.monotonic()))
            job.status = "failed"
            job.error = {"code": failure.code, "message": failure.message}
        except Exception as exc:  # noqa: BLE001 - a bug of ours still ends the job
            job.status = "failed"
            job.error = {"code": "INTERNAL", "message": repr(exc)}
        job.finished_at = time.monotonic()
        if job.callback_url is not None:
            await self._call_back(job, job.callback_url)

    def _render(self, job: Job, images: Mapping[str, bytes]) -> bytes:
        try:
            return self.renderer(job.feature, images, job.params)
        except ValueError as exc:  # the algorithms' AlgorithmInputError
            raise JobFailure("INVALID_INPUT", str(exc)) from exc
        except Exception as exc:  # any other crash is the vendor's fault
            raise JobFailure("INTERNAL", f"renderer crashed: {exc!r}") from exc

    async def _fetch_images(self, urls: Mapping[str, str]) -> dict[str, bytes]:
        # Every URL is checked before the first request: a refused one means none is fetched.
        for name, url in urls.items():
            if not url_allowed(url, self.config.allow_hosts):
                raise JobFailure("INVALID_INPUT", f"image {name}: URL not allowed")
        assert self.http is not None  # noqa: S101 - opened by the app's lifespan
        images: dict[str, bytes] = {}
        for name, url in urls.items():
            try:
                response = await self.http.get(url)
            except httpx.HTTPError as exc:
                raise JobFailure("FETCH_FAILED", f"image {name}: {exc!r}") from exc
            if response.status_code != 200:
                raise JobFailure("FETCH_FAILED", f"image {name}: HTTP {response.status_code}")
            images[name] = response.content
        return images

    async def _call_back(self, job: Job, url: str) -> None:
        if not url_allowed(url, self.config.allow_hosts):
            print(f"simulator: callback URL of {job.job_id} not allowed", file=sys.stderr)
            return
        # One event id for every attempt: the receiver drops the repeats.
        event = {"event_id": uuid.uuid4().hex, "job_id": job.job_id, "status": job.status}
        body = json.dumps(event).encode()
        assert self.http is not None  # noqa: S101 - opened by the app's lifespan
        for attempt in range(self.config.callback_attempts):
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: callback_signature(self.config.callback_secret, timestamp, body),
            }
            try:
                response = await self.http.post(url, content=body, headers=headers)
                if response.is_success:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(self.config.callback_backoff_s * 2**attempt)
        print(f"simulator: callback of {job.job_id} undelivered", file=sys.stderr)
