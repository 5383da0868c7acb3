"""A loopback stand-in for the Tencent Cloud API (TDMQ's SendCmqMsg and DescribeCmqQueueDetail):
it checks each request's TC3-HMAC-SHA256 signature as the API does and answers in the
documented response shape (`CmqQueue`'s fields, the SDK's models)."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SERVICE = "tdmq"
VERSION = "2020-02-17"
#: The API refuses a request signed more than five minutes away from its clock.
MAX_CLOCK_SKEW_S = 300
ACTIONS = ("SendCmqMsg", "DescribeCmqQueueDetail")


@dataclass
class FakeTencentCloud:
    """What the fake accepts (one key pair, the queues that exist) and what it received."""

    secret_id: str
    secret_key: str
    queues: set[str]
    endpoint: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: {queue: its `CmqQueue` counts and dead-letter policy}, as DescribeCmqQueueDetail answers.
    details: dict[str, dict[str, Any]] = field(default_factory=dict)


def tc3_signature(
    secret_key: str, *, date: str, timestamp: str, content_type: str, host: str, body: bytes
) -> str:
    """TC3-HMAC-SHA256 of a POST to `/` signing content-type and host (the API's v3 rules)."""
    canonical_request = "\n".join(
        [
            "POST",
            "/",
            "",
            f"content-type:{content_type}\nhost:{host}\n",
            "content-type;host",
            hashlib.sha256(body).hexdigest(),
        ]
    )
    scope = f"{date}/{SERVICE}/tc3_request"
    to_sign = "\n".join(
        [
            "TC3-HMAC-SHA256",
            timestamp,
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    key = ("TC3" + secret_key).encode()
    for part in (date, SERVICE, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def _error(code: str, message: str) -> dict[str, Any]:
    return {"Response": {"Error": {"Code": code, "Message": message}, "RequestId": _request_id()}}


def _request_id() -> str:
    return str(uuid.uuid4())


def _answer(cloud: FakeTencentCloud, headers: Any, body: bytes) -> dict[str, Any]:
    timestamp = headers.get("X-TC-Timestamp", "0")
    if abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_S:
        return _error("AuthFailure.SignatureExpire", "the request is too old")
    date = datetime.fromtimestamp(int(timestamp), tz=timezone.utc).strftime("%Y-%m-%d")
    signature = tc3_signature(
        cloud.secret_key,
        date=date,
        timestamp=timestamp,
        content_type=headers.get("Content-Type", ""),
        host=headers.get("Host", ""),
        body=body,
    )
    expected = (
        f"TC3-HMAC-SHA256 Credential={cloud.secret_id}/{date}/{SERVICE}/tc3_request, "
        f"SignedHeaders=content-type;host, Signature={signature}"
    )
    if not hmac.compare_digest(headers.get("Authorization", ""), expected):
        return _error("AuthFailure.SignatureFailure", "the signature does not match")
    action = headers.get("X-TC-Action")
    if action not in ACTIONS or headers.get("X-TC-Version") != VERSION:
        return _error("InvalidAction", "only SendCmqMsg and DescribeCmqQueueDetail are faked")
    params = json.loads(body)
    cloud.requests.append(
        {
            "action": action,
            "params": params,
            "region": headers.get("X-TC-Region"),
            "token": headers.get("X-TC-Token"),
        }
    )
    if params.get("QueueName") not in cloud.queues:
        return _error("ResourceNotFound", f"queue {params.get('QueueName')} does not exist")
    if action == "DescribeCmqQueueDetail":
        detail = {"QueueName": params["QueueName"], **cloud.details.get(params["QueueName"], {})}
        return {"Response": {"QueueDescribe": detail, "RequestId": _request_id()}}
    return {"Response": {"Result": True, "MsgId": uuid.uuid4().hex, "RequestId": _request_id()}}


@contextmanager
def fake_tencent_cloud(cloud: FakeTencentCloud) -> Iterator[FakeTencentCloud]:
    """Serve `cloud` on a free port of 127.0.0.1 (its `endpoint` is set), stopped on exit."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            answer = json.dumps(_answer(cloud, self.headers, body)).encode()
            self.send_response(200)  # the API answers errors with 200 and Response.Error
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests assert on the recorded requests."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    cloud.endpoint = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield cloud
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
