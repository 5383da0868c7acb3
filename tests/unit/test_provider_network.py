"""The connect-time guard of vendor requests: a host is resolved by the guard itself and the
socket opens only to a checked public address (loopback only with the local network), so
neither an IP literal nor a DNS answer that points inside (rebinding) is reached. Unit tests
cannot open sockets: a refused connect here proves that nothing was even attempted."""

from __future__ import annotations

import socket
from typing import Any

import httpx
import pytest

from retouch.pipeline.fetch import fetch_result
from retouch.providers.network import (
    AddressRefused,
    CheckedBackend,
    ResponseTooLarge,
    _CappedStream,
    address_allowed,
    checked_client,
)
from retouch.providers.port import ProviderRetryable


@pytest.fixture
def literal_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    """getaddrinfo for IP literals as the C library reads them (`0x7f000001` too), without
    DNS: unit tests may not resolve."""

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        host = host.strip("[]")
        if ":" in host:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (host, port, 0, 0))]
        address = socket.inet_ntoa(socket.inet_aton(host))
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


@pytest.mark.parametrize(
    "address",
    [
        "169.254.169.254",  # AWS / GCP metadata
        "169.254.0.23",  # Tencent Cloud metadata
        "100.100.100.200",  # shared address space (Alibaba metadata)
        "fd00:ec2::254",  # AWS IPv6 metadata
        "127.0.0.1",
        "::1",
        "10.0.0.8",
        "172.16.3.4",
        "192.168.1.1",
        "0.0.0.0",  # noqa: S104 - the unspecified address, as a destination
        "224.0.0.1",
        "240.0.0.1",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "fe80::1%eth0",
    ],
)
def test_inside_addresses_are_refused(address: str) -> None:
    assert address_allowed(address, local_network=False) is False


@pytest.mark.parametrize("address", ["203.0.113.9", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_allowed_except_documentation_ranges(address: str) -> None:
    # 203.0.113.0/24 is TEST-NET-3: not global either
    assert address_allowed(address, local_network=False) is (address != "203.0.113.9")


def test_loopback_is_allowed_only_with_the_local_network() -> None:
    assert address_allowed("127.0.0.1", local_network=True) is True
    assert address_allowed("169.254.169.254", local_network=True) is False
    assert address_allowed("10.0.0.8", local_network=True) is False


def test_a_host_that_resolves_inside_is_refused_before_any_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a vendor's name whose DNS answer now points at the metadata service (rebinding)
    def rebound(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("169.254.169.254", port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebound)

    with pytest.raises(AddressRefused):
        CheckedBackend(local_network=True).connect_tcp("cdn.runninghub.cn", 443)


def test_one_inside_address_among_public_ones_refuses_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def mixed(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("8.8.8.8", port)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.1.2.3", port)),
        ]

    monkeypatch.setattr(socket, "getaddrinfo", mixed)

    with pytest.raises(AddressRefused):
        CheckedBackend(local_network=False).connect_tcp("www.runninghub.cn", 443)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:6379/",
        "http://0x7f000001:3307/",
        "http://[::1]:8900/",
    ],
)
def test_a_vendor_client_never_connects_inside(url: str, literal_resolver: None) -> None:
    client = checked_client(local_network=False, max_response_bytes=1024)
    with client, pytest.raises(httpx.ConnectError, match="non-public address"):
        client.get(url)


def test_a_result_fetch_inside_is_retryable_and_sends_nothing(literal_resolver: None) -> None:
    class Provider:
        result_hosts = frozenset({"169.254.169.254"})  # as if written before the allowlist

    with pytest.raises(ProviderRetryable, match="ConnectError"):
        fetch_result("http://169.254.169.254/x.png", Provider())  # type: ignore[arg-type]


def test_a_response_over_the_cap_stops_the_read() -> None:
    stream = _CappedStream(httpx.ByteStream(b"x" * 10), limit=5)

    with pytest.raises(ResponseTooLarge):
        b"".join(stream)
