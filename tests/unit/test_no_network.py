"""Unit tests cannot reach the network: a TCP or UDP socket is refused, even to loopback, while
the event loop's own Unix socketpair still works."""

from __future__ import annotations

import asyncio
import socket

import pytest
from pytest_socket import SocketBlockedError

# pytest-socket warns as it refuses; here the refusal is the point.
pytestmark = pytest.mark.filterwarnings("ignore:A test tried to use socket")


def test_a_tcp_connection_to_loopback_is_refused() -> None:
    with pytest.raises(SocketBlockedError):
        socket.create_connection(("127.0.0.1", 9), timeout=1)


def test_a_udp_socket_cannot_even_be_made() -> None:
    with pytest.raises(SocketBlockedError):
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def test_a_redis_client_of_the_unit_settings_cannot_connect() -> None:
    from retouch.core.redis import get_redis

    with pytest.raises(SocketBlockedError):
        get_redis().ping()


def test_an_event_loop_still_runs() -> None:
    async def answer() -> int:
        await asyncio.sleep(0)
        return 42

    assert asyncio.run(answer()) == 42
