"""Providers in process: a `ScriptedProvider` answering each submit (and poll) with the next
entry of its script, and `FakeProviders`, the engine's `ProviderSource` over a dict.

A script entry is what the vendor does with one job: `bytes` (the job ends at once with that
image), a `ProviderError` (raised by `submit`), `PENDING` (accepted; `poll` answers from
`polls`), or a whole `JobStatus`. The last entry repeats once the script is used up.

    provider = ScriptedProvider("vendor", [ProviderRetryable("503"), png(4, 3)])
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

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

PENDING: Literal["pending"] = "pending"
Answer = bytes | ProviderError | JobStatus | Literal["pending"]


class ScriptedProvider:
    """A vendor that does what its script says; it records the jobs, polls and cancels."""

    def __init__(
        self,
        key: str,
        script: Sequence[Answer],
        *,
        polls: Sequence[Answer] = (),
        result_hosts: frozenset[str] = frozenset(),
    ) -> None:
        self.key = key
        self.result_hosts = result_hosts
        self._script, self._polls = list(script), list(polls)
        self.jobs: list[JobInput] = []
        self.polled: list[str] = []
        self.canceled: list[str] = []

    def submit(self, job: JobInput) -> Submitted:
        self.jobs.append(job)
        handle = f"{self.key}-job-{len(self.jobs)}"
        answer = _next(self._script)
        if isinstance(answer, ProviderError):
            raise answer
        return Submitted(handle=handle, status=None if answer == PENDING else _status(answer))

    def poll(self, handle: str) -> JobStatus:
        self.polled.append(handle)
        answer = _next(self._polls) if self._polls else PENDING
        if isinstance(answer, ProviderError):
            raise answer
        return JobStatus(state="pending") if answer == PENDING else _status(answer)

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackEvent:
        """A callback is good when it names its job and event (`job` and `event` headers)."""
        if "job" not in headers or "event" not in headers:
            raise InvalidCallback("unsigned or malformed")
        return CallbackEvent(handle=headers["job"], event_id=headers["event"])

    def cancel(self, handle: str) -> None:
        self.canceled.append(handle)


def _next(script: list[Answer]) -> Answer:
    return script.pop(0) if len(script) > 1 else script[0]


def _status(answer: bytes | JobStatus | str) -> JobStatus:
    if isinstance(answer, JobStatus):
        return answer
    assert isinstance(answer, bytes)
    return JobStatus(state="succeeded", outputs=(Output(data=answer),))


class FakeProviders:
    """The enabled providers by key, each with its concurrency limit (default 4)."""

    def __init__(self, *providers: Provider, limits: Mapping[str, int] | None = None) -> None:
        self.providers = {provider.key: provider for provider in providers}
        self.limits = dict(limits or {})

    def get(self, key: str) -> Provider | None:
        return self.providers.get(key)

    def limit(self, key: str) -> int:
        return self.limits.get(key, 4)
