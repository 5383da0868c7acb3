"""The connect-time guard of every outbound vendor request made with httpx (submit, poll,
result download, RunningHub's input download for its upload mode).

The allowlist (`destinations`) decides which *names* a provider may use; this decides which
*addresses* a socket may open. The network backend resolves the host itself, refuses the
connection unless every address it resolves to is public (not loopback, private, link-local
— the metadata service —, shared, multicast, reserved or unspecified), and connects to the
checked address, so a DNS answer that changes between a check and the connect (rebinding)
cannot reach inside. Loopback is allowed only with `RETOUCH_PROVIDERS_ALLOW_LOCAL_NETWORK`.
The client follows no redirects, reads no proxy from the environment, and a response body
over its cap fails the read.

Imported only when a vendor client is built: it loads httpx and httpcore.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

SocketOption = Any  # httpcore's socket option tuples


def address_allowed(address: str, *, local_network: bool) -> bool:
    """True for a public unicast address; loopback too where the local network is allowed."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return local_network
    return ip.is_global and not (ip.is_multicast or ip.is_reserved or ip.is_unspecified)


class AddressRefused(httpcore.ConnectError):
    """The host resolves to an address a vendor request may not reach; nothing was sent."""


class CheckedBackend(httpcore.SyncBackend):
    """httpcore's sync backend, connecting only to checked addresses."""

    def __init__(self, *, local_network: bool) -> None:
        self._local_network = local_network

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise httpcore.ConnectError(f"{host}: cannot resolve ({exc})") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        refused = [
            a for a in addresses if not address_allowed(a, local_network=self._local_network)
        ]
        if refused or not addresses:
            raise AddressRefused(f"{host} resolves to a non-public address: refused")
        failure = httpcore.ConnectError(f"{host}: no address answered")
        for address in addresses:  # the checked address itself: no second lookup
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                failure = exc
        raise failure

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[SocketOption] | None = None,
    ) -> httpcore.NetworkStream:
        raise AddressRefused("unix sockets are not vendor destinations")


class ResponseTooLarge(httpx.TransportError):
    """A vendor's response body exceeded the client's cap; the read was stopped."""


class _CappedStream(httpx.SyncByteStream):
    def __init__(self, stream: httpx.SyncByteStream, limit: int) -> None:
        self._stream, self._limit = stream, limit

    def __iter__(self) -> Iterator[bytes]:
        size = 0
        for chunk in self._stream:
            size += len(chunk)
            if size > self._limit:
                raise ResponseTooLarge(f"response larger than {self._limit} bytes")
            yield chunk

    def close(self) -> None:
        self._stream.close()


class CheckedTransport(httpx.HTTPTransport):
    """httpx's transport over `CheckedBackend`, with a cap on every response body."""

    def __init__(self, *, local_network: bool, max_response_bytes: int) -> None:
        super().__init__(trust_env=False)
        # The pool httpx built has the default backend; this one checks each address.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            network_backend=CheckedBackend(local_network=local_network),
        )
        self._max_response_bytes = max_response_bytes

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if not isinstance(response.stream, httpx.SyncByteStream):  # httpx's always is
            return response
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CappedStream(response.stream, self._max_response_bytes),
            extensions=response.extensions,
        )


def checked_client(*, local_network: bool, max_response_bytes: int, **options: Any) -> httpx.Client:
    """An httpx client for vendor requests: checked addresses, no redirects, no proxy from
    the environment, capped responses; `options` are httpx.Client's (base_url, timeout…)."""
    transport = CheckedTransport(local_network=local_network, max_response_bytes=max_response_bytes)
    return httpx.Client(transport=transport, follow_redirects=False, trust_env=False, **options)
