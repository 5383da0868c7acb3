"""Vendor requests against a real loopback server: in production (no local network) a
vendor name whose DNS answer points at loopback is refused at connect time and the server
sees nothing; with the local network it is reached; a redirect is never followed and an
oversized answer stops the read."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import httpx
import pytest

from retouch.providers.network import ResponseTooLarge, checked_client

pytestmark = pytest.mark.integration

BODY = b"x" * 4096


class Server:
    def __init__(self) -> None:
        self.paths: list[str] = []
        self.port = 0


@pytest.fixture
def server() -> Iterator[Server]:
    state = Server()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.paths.append(self.path)
            if self.path == "/redirect":
                self.send_response(302)
                self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = httpd.server_address[1]
    thread = Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def rebinding(monkeypatch: pytest.MonkeyPatch) -> None:
    """`cdn.runninghub.cn` resolves to loopback, as a rebinding attacker's DNS would answer."""
    real = socket.getaddrinfo

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        if host == "cdn.runninghub.cn":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def test_a_name_rebound_to_loopback_is_refused_in_production(
    server: Server, rebinding: None
) -> None:
    client = checked_client(local_network=False, max_response_bytes=1 << 20)

    with client, pytest.raises(httpx.ConnectError, match="non-public address"):
        client.get(f"http://cdn.runninghub.cn:{server.port}/result.png")

    assert server.paths == []


def test_the_local_network_reaches_loopback(server: Server, rebinding: None) -> None:
    with checked_client(local_network=True, max_response_bytes=1 << 20) as client:
        response = client.get(f"http://cdn.runninghub.cn:{server.port}/result.png")

    assert (response.status_code, response.content) == (200, BODY)


def test_a_redirect_is_never_followed(server: Server) -> None:
    with checked_client(local_network=True, max_response_bytes=1 << 20) as client:
        response = client.get(f"http://127.0.0.1:{server.port}/redirect")

    assert response.status_code == 302
    assert server.paths == ["/redirect"]


def test_an_answer_over_the_cap_stops_the_read(server: Server) -> None:
    client = checked_client(local_network=True, max_response_bytes=1024)

    with client, pytest.raises(ResponseTooLarge):
        client.get(f"http://127.0.0.1:{server.port}/big")
