"""A loopback stand-in for the Tencent Cloud STS API (GetFederationToken and AssumeRole).

It verifies each call's TC3-HMAC-SHA256 signature (computed here from Tencent Cloud's
documentation), records the calls and answers in the documented response shape.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration.cos_fake import SECRET_ID, SECRET_KEY, serving


@dataclass
class StsCall:
    """One STS request the fake answered: its action and its JSON parameters."""

    action: str
    parameters: dict[str, Any]
    token: str | None


@dataclass
class FakeSts:
    """Records every call; answers GetFederationToken and AssumeRole with the documented
    response shape."""

    calls: list[StsCall] = field(default_factory=list)
    url: str = ""


def tc3_signature_error(headers: Mapping[str, str], body: bytes) -> str | None:
    """Why an API call's TC3-HMAC-SHA256 signature is wrong, or None when it is right."""
    authorization = headers.get("authorization", "")
    prefix = "TC3-HMAC-SHA256 Credential="
    if not authorization.startswith(prefix):
        return "not TC3-signed"
    credential, signed_headers, signature = (
        item.split("=", 1)[1] for item in authorization[len("TC3-HMAC-SHA256 ") :].split(", ")
    )
    secret_id, date, service, _ = credential.split("/")
    if secret_id != SECRET_ID:
        return "unknown key"
    canonical_headers = "".join(f"{name}:{headers[name]}\n" for name in signed_headers.split(";"))
    canonical_request = (
        f"POST\n/\n\n{canonical_headers}\n{signed_headers}\n{hashlib.sha256(body).hexdigest()}"
    )
    string_to_sign = (
        f"TC3-HMAC-SHA256\n{headers['x-tc-timestamp']}\n{date}/{service}/tc3_request\n"
        f"{hashlib.sha256(canonical_request.encode()).hexdigest()}"
    )
    key = ("TC3" + SECRET_KEY).encode()
    for part in (date, service, "tc3_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return None if hmac.compare_digest(expected, signature) else "signature mismatch"


class _StsHandler(BaseHTTPRequestHandler):
    server: _StsServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        action = headers.get("x-tc-action", "")
        error = tc3_signature_error(headers, body)
        if error is not None:
            response: dict[str, Any] = {"Error": {"Code": "AuthFailure", "Message": error}}
        elif action not in ("GetFederationToken", "AssumeRole"):
            response = {"Error": {"Code": "InvalidAction", "Message": action}}
        else:
            parameters = json.loads(body)
            self.server.fake.calls.append(StsCall(action, parameters, headers.get("x-tc-token")))
            expires = int(time.time()) + int(parameters.get("DurationSeconds", 1800))
            response = {
                "Credentials": {
                    "Token": secrets.token_hex(16),
                    "TmpSecretId": "AKIDtmp" + secrets.token_hex(8),
                    "TmpSecretKey": secrets.token_hex(16),
                },
                "ExpiredTime": expires,
                "Expiration": datetime.fromtimestamp(expires, timezone.utc).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            }
        send_tencent_response(self, response)


def send_tencent_response(handler: BaseHTTPRequestHandler, response: dict[str, Any]) -> None:
    """Answer as every Tencent Cloud API does: HTTP 200, `{"Response": {..., "RequestId"}}`."""
    response["RequestId"] = secrets.token_hex(8)
    data = json.dumps({"Response": response}).encode()
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class _StsServer(ThreadingHTTPServer):
    fake: FakeSts


@contextmanager
def running_fake_sts() -> Iterator[FakeSts]:
    """A fake Tencent Cloud STS API on a free loopback port; `url` is its endpoint."""
    server = _StsServer(("127.0.0.1", 0), _StsHandler)
    server.fake = FakeSts()
    with serving(server) as url:
        server.fake.url = url
        yield server.fake
