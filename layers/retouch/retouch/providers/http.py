"""What the adapters of HTTP vendors share: their timeouts, their lazily built client (every
socket it opens checked at connect time: `network`), the mapping of transport failures, and
where their results may be fetched from. httpx is imported when a client is built or used,
never when this module is."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from retouch.core.settings import get_settings
from retouch.providers.port import ProviderRetryable

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to open a connection and to wait for each read of an answer."""

    connect_s: float = 3.0
    read_s: float = 10.0


#: The largest answer a vendor's API may send (its JSON; results are fetched on their own).
MAX_API_RESPONSE_BYTES = 8 * 1024 * 1024


def vendor_client(*, max_response_bytes: int, **options: Any) -> httpx.Client:
    """An httpx client for vendor requests: each socket's address checked when it connects
    (loopback only with RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK), no redirects, no proxy from
    the environment, responses capped at `max_response_bytes`; `options` are httpx's."""
    from retouch.providers.network import checked_client

    return checked_client(
        local_network=get_settings().providers_allow_local_network,
        max_response_bytes=max_response_bytes,
        **options,
    )


class VendorClient:
    """One vendor's sync httpx client (`vendor_client`), built on first use (by one thread)
    and closable: explicit connect and read timeouts (writes get the read timeout, waiting
    for a pooled connection the connect one), no redirects followed."""

    def __init__(self, base_url: str, headers: Mapping[str, str], timeouts: Timeouts) -> None:
        self._base_url, self._headers, self._timeouts = base_url, dict(headers), timeouts
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def get(self) -> httpx.Client:
        """The client, built now if it is not yet."""
        with self._lock:
            if self._client is None:
                import httpx

                self._client = vendor_client(
                    max_response_bytes=MAX_API_RESPONSE_BYTES,
                    base_url=self._base_url,
                    headers=self._headers,
                    timeout=httpx.Timeout(
                        connect=self._timeouts.connect_s,
                        read=self._timeouts.read_s,
                        write=self._timeouts.read_s,
                        pool=self._timeouts.connect_s,
                    ),
                )
            return self._client

    def close(self) -> None:
        """Close the client (a later call builds a new one)."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def sent(what: str, request: Callable[[], httpx.Response]) -> httpx.Response:
    """The response to `request()`; a timeout or any transport failure (refused, reset, a
    broken answer) is ProviderRetryable, its detail starting with `what`."""
    import httpx

    try:
        return request()
    except httpx.TimeoutException as exc:
        raise ProviderRetryable(f"{what}: timeout ({exc!r})") from exc
    except httpx.HTTPError as exc:
        raise ProviderRetryable(f"{what}: {exc!r}") from exc


def host_allowed(host: str | None, hosts: frozenset[str]) -> bool:
    """True when `host` is one of `hosts` or lies under one of its `.domain` entries."""
    if not host:
        return False
    host = host.lower()
    return host in hosts or any(entry.startswith(".") and host.endswith(entry) for entry in hosts)


def result_url_allowed(url: str, hosts: frozenset[str]) -> bool:
    """True for an http(s) URL on `hosts` (exact names, or `.domain` for any host under
    it): the only results an adapter accepts and the `store` step fetches."""
    parts = urlsplit(url)
    return parts.scheme in ("https", "http") and host_allowed(parts.hostname, hosts)
