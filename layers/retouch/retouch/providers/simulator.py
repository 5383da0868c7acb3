"""The `simulator` provider: the adapter of the vendor stand-in `scripts/simulator.py`.

The protocol (documented in full in that module): `POST /jobs` → 202 `{job_id}`; `GET
/jobs/{id}` → `{status, result_urls?, error?}`; `POST /jobs/{id}/cancel`; signed callbacks
`{event_id, job_id, status}` with `X-Sim-Timestamp` and `X-Sim-Signature` =
hex(HMAC-SHA256(secret, timestamp + "." + body)).

httpx (a sync client with explicit connect and read timeouts) is imported and the client
built on the first call, so importing this module costs nothing at a cold start.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from retouch.providers.http import Timeouts as Timeouts  # re-exported: its callers import it here
from retouch.providers.http import VendorClient, sent
from retouch.providers.port import (
    CallbackEvent,
    InvalidCallback,
    JobInput,
    JobStatus,
    Output,
    ProviderBusy,
    ProviderError,
    ProviderPermanent,
    ProviderRetryable,
    Submitted,
)

USER_AGENT = "retouch-provider/simulator"
TIMESTAMP_HEADER = "x-sim-timestamp"
SIGNATURE_HEADER = "x-sim-signature"
# Codes of a failed job that retrying cannot change; any other code is worth another attempt.
PERMANENT_CODES = frozenset({"INVALID_INPUT", "CANCELED"})
_PENDING = frozenset({"queued", "running"})


def callback_signature(secret: str, timestamp: str, body: bytes) -> str:
    """hex(HMAC-SHA256(secret, timestamp + "." + body)): a simulator callback's signature."""
    message = timestamp.encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class SimulatorProvider:
    """The simulator over HTTP: every failure is mapped to the port's error classes."""

    key = "simulator"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        callback_secret: str,
        timeouts: Timeouts | None = None,
        *,
        callback_tolerance_s: float = 300.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._origin = _origin(self.base_url)
        #: The only host the `store` step may fetch this provider's results from.
        self.result_hosts = frozenset({urlsplit(self.base_url).hostname or ""})
        self._api_key = api_key
        self._callback_secret = callback_secret
        self._timeouts = timeouts or Timeouts()
        self._callback_tolerance_s = callback_tolerance_s
        self._clock = clock
        self._client = VendorClient(
            self.base_url,
            {"Authorization": f"Bearer {self._api_key}", "User-Agent": USER_AGENT},
            self._timeouts,
        )

    def submit(self, job: JobInput) -> Submitted:
        payload: dict[str, Any] = {
            "feature": job.feature,
            "image_urls": dict(job.image_urls),
            "params": dict(job.params),
            "client_token": job.client_token,
        }
        if job.callback_url is not None:
            payload["callback_url"] = job.callback_url
        answer = self._call("POST", "/jobs", payload)
        job_id = answer.get("job_id")
        if not isinstance(job_id, str) or not job_id:
            raise ProviderRetryable(f"simulator submit: no job_id in {answer!r}")
        return Submitted(handle=job_id)

    def poll(self, handle: str) -> JobStatus:
        answer = self._call("GET", f"/jobs/{_segment(handle)}")
        status = answer.get("status")
        if status in _PENDING:
            return JobStatus(state="pending")
        if status == "succeeded":
            return JobStatus(state="succeeded", outputs=self._outputs(answer.get("result_urls")))
        if status in ("failed", "canceled"):
            return JobStatus(state="failed", error=_job_error(answer.get("error"), status))
        raise ProviderRetryable(f"simulator poll: unknown status in {answer!r}")

    def cancel(self, handle: str) -> None:
        self._call("POST", f"/jobs/{_segment(handle)}/cancel")

    def parse_callback(self, headers: Mapping[str, str], body: bytes) -> CallbackEvent:
        lowered = {name.lower(): value for name, value in headers.items()}
        timestamp = lowered.get(TIMESTAMP_HEADER, "")
        signature = lowered.get(SIGNATURE_HEADER, "")
        expected = callback_signature(self._callback_secret, timestamp, body)
        # The MAC first, compared in constant time; only a genuine callback learns more.
        if not timestamp or not hmac.compare_digest(signature.encode(), expected.encode()):
            raise InvalidCallback("simulator callback: bad or missing signature")
        try:
            sent_at = float(timestamp)
        except ValueError:
            raise InvalidCallback(f"simulator callback: bad timestamp {timestamp!r}") from None
        if abs(self._clock() - sent_at) > self._callback_tolerance_s:
            raise InvalidCallback(f"simulator callback: stale timestamp {timestamp}")
        try:
            event = json.loads(body)
        except ValueError:
            raise InvalidCallback("simulator callback: body is not JSON") from None
        job_id = event.get("job_id") if isinstance(event, dict) else None
        event_id = event.get("event_id") if isinstance(event, dict) else None
        if not isinstance(job_id, str) or not job_id or not isinstance(event_id, str):
            raise InvalidCallback("simulator callback: job_id or event_id missing")
        return CallbackEvent(handle=job_id, event_id=event_id)

    def close(self) -> None:
        """Close the HTTP client (a later call opens a new one)."""
        self._client.close()

    def _outputs(self, urls: object) -> tuple[Output, ...]:
        if not isinstance(urls, list) or not urls:
            raise ProviderRetryable(f"simulator poll: succeeded without result_urls: {urls!r}")
        for url in urls:
            # A result is fetched by the store step: only from the vendor's own origin.
            if not isinstance(url, str) or _origin(url) != self._origin:
                raise ProviderRetryable(f"simulator poll: result URL off the vendor: {url!r}")
        return tuple(Output(url=url) for url in urls)

    def _call(self, method: str, path: str, payload: object = None) -> dict[str, Any]:
        response = sent(
            f"simulator {method} {path}",
            lambda: self._client.get().request(method, path, json=payload),
        )
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if response.is_success and isinstance(answer, dict):
            return answer
        raise _http_error(method, path, response.status_code, answer, response.text)


def _http_error(method: str, path: str, status: int, answer: object, text: str) -> ProviderError:
    code = answer.get("code") if isinstance(answer, dict) else None
    detail = f"simulator {method} {path}: HTTP {status} {code or text[:200]!r}"
    if status == 429 and code == "CONCURRENCY_LIMIT":
        return ProviderBusy(detail)
    if status in (400, 422) or code == "INVALID_INPUT":
        return ProviderPermanent(detail)
    # 5xx, 429 RATE_LIMITED, a refused key, an unknown job, a 2xx that is not a JSON object.
    return ProviderRetryable(detail)


def _job_error(error: object, status: str) -> ProviderError:
    code = error.get("code") if isinstance(error, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    if status == "canceled":
        code = "CANCELED"
    detail = f"simulator job {status}: {code} {message or ''}".strip()
    return ProviderPermanent(detail) if code in PERMANENT_CODES else ProviderRetryable(detail)


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _segment(handle: str) -> str:
    return quote(handle, safe="")
