"""A loopback HTTP server standing in for the presigned S3 URL a CloudFormation custom resource
answers on: it records every PUT (path, headers, JSON body) and answers 200, as S3 does."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: The placeholder of events/*_aws_cfn.json that the tests replace with a receiver's URL.
RESPONSE_URL_PLACEHOLDER = "<response-url>"


class _Receiver(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        body = json.loads(self.rfile.read(length))
        self.received.append({"path": self.path, "headers": dict(self.headers), "body": body})
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        """Quiet."""


@contextmanager
def answer_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A running receiver: its presigned-like URL, and the list of what it received."""
    received: list[dict[str, Any]] = []
    handler = type("Receiver", (_Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield (
            f"http://127.0.0.1:{server.server_address[1]}/cfn-answer?X-Amz-Signature=abc",
            received,
        )
    finally:
        server.shutdown()
        server.server_close()
