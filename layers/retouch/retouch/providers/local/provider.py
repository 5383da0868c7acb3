"""The `local` provider: the classical OpenCV algorithms of `algorithms.py`, run in-process.

A synchronous vendor in the port's terms: `submit` runs the algorithm and answers the
finished status with the PNG bytes, so the engine neither polls nor waits for a callback.
Input it cannot work on is a permanent error; anything else (an unexpected failure inside
OpenCV) is retryable, and the engine's retries and fallback apply as for any vendor.
"""

from __future__ import annotations

from collections.abc import Mapping

from retouch.providers.port import (
    CallbackEvent,
    InvalidCallback,
    JobInput,
    JobStatus,
    Output,
    ProviderPermanent,
    ProviderRetryable,
    Submitted,
)


class LocalProvider:
    key = "local"
    #: The engine hands this provider the image bytes rather than URLs.
    in_process = True
    result_hosts: frozenset[str] = frozenset()

    def submit(self, job: JobInput) -> Submitted:
        from retouch.providers.local.algorithms import run
        from retouch.providers.local.errors import AlgorithmInputError

        try:
            data = run(job.feature, job.image_bytes, job.params)
        except AlgorithmInputError as exc:
            raise ProviderPermanent(f"local: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - an OpenCV failure: worth a retry or fallback
            raise ProviderRetryable(f"local: {type(exc).__name__}: {exc}") from None
        return Submitted(
            handle=f"local:{job.client_token}",
            status=JobStatus(state="succeeded", outputs=(Output(data=data),)),
        )

    def poll(self, handle: str) -> JobStatus:
        # Local jobs end inside `submit`; a poll means the step lost its result: run again.
        return JobStatus(state="failed", error=ProviderRetryable(f"no local job {handle}"))

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackEvent:
        raise InvalidCallback("the local provider sends no callbacks")

    def cancel(self, handle: str) -> None:
        return None
