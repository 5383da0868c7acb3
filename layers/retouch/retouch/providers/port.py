"""The provider port (DESIGN §5–6): what the `generate` step needs from any image vendor.

One adapter per vendor (`local`, `simulator`; `runninghub`, `hunyuan`, `tencent` later)
implements `Provider`. Jobs are asynchronous: `submit` returns the vendor's handle at once
(the step saves it before anything else), and `poll` — or a callback that prompts a poll —
reports progress until a result or an error. A synchronous vendor answers `submit` with the
finished status in `Submitted.status`.

Errors say what the engine should do, never what the vendor said to a client:
`ProviderRetryable` (timeouts, 5xx, 429, malformed answers: retry with backoff, then the next
provider), `ProviderBusy` (the vendor's concurrency is full: retry later, no breaker strike),
`ProviderUnavailable` (our key, account, funds or configuration at the vendor: the next
provider at once, with a breaker strike), `ProviderPermanent` (bad input, content refused:
fail the task at once). An adapter that serves only some features says so in `serves`
(optional; see `serves()`): the chain skips it for the others without a request. Vendor
messages stay in `detail` for operators (task_steps), never in a response.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

JobState = Literal["pending", "succeeded", "failed"]


class ProviderError(Exception):
    """Base of a provider's failures; `detail` is internal (vendor code and message)."""

    retryable: bool = False

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail[:1000]


class ProviderRetryable(ProviderError):
    """A timeout, a 5xx, a 429, a malformed or empty answer: worth another attempt."""

    retryable = True


class ProviderBusy(ProviderRetryable):
    """The vendor's concurrency limit is reached: retry later; not a fault of the vendor."""


class ProviderUnavailable(ProviderRetryable):
    """The vendor cannot serve us now whatever we send — a refused key, an account in
    arrears, a workflow that does not exist: not the input's fault and not worth retrying
    here; the next provider serves, and the breaker keeps this one out meanwhile."""


class ProviderPermanent(ProviderError):
    """The input is refused (bad parameters, content policy): retrying cannot help."""


class InvalidCallback(ProviderError):
    """A callback that is not the vendor's: bad or missing signature, stale timestamp,
    malformed body. It changes nothing (and is answered the 204 every callback gets)."""


@dataclass(frozen=True, slots=True)
class JobInput:
    """One generation job. `image_urls` are short-lived presigned GET URLs of our storage by
    form field (vendors fetch them); `image_bytes` the same images read from storage, for
    providers that run in-process (`local`); `params` the form's other fields.
    `client_token` (task id + attempt) lets a vendor deduplicate a resubmission."""

    feature: str
    image_urls: Mapping[str, str]
    params: Mapping[str, Any]
    client_token: str
    callback_url: str | None = None
    image_bytes: Mapping[str, bytes] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Output:
    """One result image: bytes the provider already holds, or a vendor URL the `store` step
    copies into our storage at once (vendor URLs expire and must be on the vendor's hosts)."""

    data: bytes | None = None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class JobStatus:
    """Where a job stands. `failed` carries the error the engine classifies."""

    state: JobState
    outputs: tuple[Output, ...] = ()
    error: ProviderError | None = None


@dataclass(frozen=True, slots=True)
class Submitted:
    """A submitted job: the vendor's handle and, from a synchronous vendor, its end state."""

    handle: str
    status: JobStatus | None = None


@dataclass(frozen=True, slots=True)
class CallbackEvent:
    """A verified callback: which job, and the vendor's event id (replays are dropped by it)."""

    handle: str
    event_id: str


class Provider(Protocol):
    """One image vendor."""

    key: str

    def submit(self, job: JobInput) -> Submitted:
        """Start a job; raises ProviderError. The handle is saved before anything else."""
        ...

    def poll(self, handle: str) -> JobStatus:
        """The job's state now; raises ProviderRetryable when the vendor cannot say."""
        ...

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackEvent:
        """Verify and read a callback (InvalidCallback otherwise). For a vendor without
        signatures it returns the handle only as a prompt: the engine polls to confirm."""
        ...

    def cancel(self, handle: str) -> None:
        """Best effort: ask the vendor to stop the job; errors are swallowed by the caller."""
        ...


def serves(provider: Provider, feature: str) -> bool:
    """Whether `provider` is configured for `feature`: its `serves(feature)` when it has
    one (vendors configured per feature), else True."""
    check = getattr(provider, "serves", None)
    return True if check is None else bool(check(feature))
