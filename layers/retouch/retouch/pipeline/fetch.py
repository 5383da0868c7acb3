"""Fetching a vendor's result URL for the `store` step: only https/http URLs on the hosts
the provider declares (`result_hosts`: exact host names, or `.domain` for any host under
that domain, as vendors serve results from per-bucket CDN hosts), never anything a vendor
answer could point at (our metadata endpoint, a private address); size-capped; with explicit
timeouts."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from retouch.providers.http import result_url_allowed, vendor_client
from retouch.providers.port import Provider, ProviderPermanent, ProviderRetryable

if TYPE_CHECKING:
    import httpx

MAX_RESULT_BYTES = 50 * 1024 * 1024
TIMEOUT_S = 30.0


@cache
def _client() -> httpx.Client:
    """One client per instance (thread-safe; building one costs ≈ 25 ms of CPU, its TLS
    context mostly), reused by every fetch: each address checked at connect time (a result
    host that resolves inside is refused), no redirects, explicit timeouts."""
    # The transport's cap backs up the counted one below, which answers ProviderPermanent.
    return vendor_client(max_response_bytes=2 * MAX_RESULT_BYTES, timeout=TIMEOUT_S)


def fetch_result(url: str, provider: Provider) -> bytes:
    """The bytes at `url`, a result of `provider`. ProviderPermanent for a URL off the
    provider's hosts (it is never requested); ProviderRetryable for a failed download."""
    import httpx

    hosts: frozenset[str] = getattr(provider, "result_hosts", frozenset())
    if not result_url_allowed(url, hosts):
        raise ProviderPermanent(f"result URL off the provider's hosts: {urlsplit(url).hostname}")
    try:
        with _client().stream("GET", url) as response:
            if response.status_code != 200:
                raise ProviderRetryable(f"result download answered {response.status_code}")
            chunks, size = [], 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > MAX_RESULT_BYTES:
                    raise ProviderPermanent("result larger than the limit")
                chunks.append(chunk)
    except httpx.HTTPError as exc:
        raise ProviderRetryable(f"result download failed: {type(exc).__name__}") from None
    return b"".join(chunks)
