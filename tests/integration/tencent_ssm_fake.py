"""A loopback stand-in for Tencent Cloud Secrets Manager (SSM): `GetSecretValue`, v2019-09-23.

Every request's TC3-HMAC-SHA256 signature is checked (`tencent_sts_fake.tc3_signature_error`,
the key pair of `cos_fake`), and its service, action, version, region and fields: `SecretName`
as SSM names a secret (letters, digits, `-`, `_`), `VersionId` present. A test stores secrets
by name and version (`put`); `SSM_Current` answers the newest. Answers have the documented
shapes (HTTP 200 either way): `{"Response": {"SecretName", "VersionId", "SecretString",
"RequestId"}}`, or `{"Response": {"Error": {"Code", "Message"}, "RequestId"}}` with
`ResourceNotFound` for a secret or version that does not exist.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration.cos_fake import serving
from tests.integration.tencent_sts_fake import tc3_signature_error, write_response

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
CURRENT = "SSM_Current"


@dataclass
class SsmCall:
    """One GetSecretValue the fake accepted (signature valid): its fields, region and token."""

    secret_name: str
    version_id: str
    region: str | None
    token: str | None


@dataclass
class FakeSsm:
    """The stored secrets (name → [(version, value)], oldest first), the calls accepted and
    the requests refused (why)."""

    url: str = ""
    secrets: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    calls: list[SsmCall] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, name: str, value: str, version: str | None = None) -> None:
        """Store a new version of `name` (rotation): `SSM_Current` answers it from now on."""
        with self.lock:
            versions = self.secrets.setdefault(name, [])
            versions.append((version or f"v{len(versions) + 1}", value))

    def reads(self, name: str) -> int:
        return sum(1 for call in self.calls if call.secret_name == name)

    def answer(self, headers: dict[str, str], body: bytes) -> dict[str, Any]:
        problem = tc3_signature_error(headers, body)
        if problem is not None:
            self.refused.append(problem)
            return _error("AuthFailure.SignatureFailure", problem)
        service = headers["authorization"].split("Credential=", 1)[1].split("/")[2]
        if (service, headers.get("x-tc-action")) != ("ssm", "GetSecretValue"):
            return _error("InvalidAction", f"{service} {headers.get('x-tc-action')}")
        if headers.get("x-tc-version") != "2019-09-23":
            return _error("InvalidParameterValue.Version", str(headers.get("x-tc-version")))
        if not headers.get("x-tc-region"):
            return _error("MissingParameter", "X-TC-Region")
        params = json.loads(body)
        name, version = params.get("SecretName"), params.get("VersionId")
        if not isinstance(name, str) or not _NAME.fullmatch(name) or not version:
            self.refused.append(f"fields {sorted(params)}")
            return _error("InvalidParameter", "SecretName and VersionId required")
        with self.lock:
            self.calls.append(
                SsmCall(name, version, headers.get("x-tc-region"), headers.get("x-tc-token"))
            )
            versions = self.secrets.get(name, [])
        found = versions[-1:] if version == CURRENT else [v for v in versions if v[0] == version]
        if not found:
            return _error("ResourceNotFound", f"secret {name} version {version} not found")
        return {"SecretName": name, "VersionId": found[0][0], "SecretString": found[0][1]}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"Error": {"Code": code, "Message": message}}


class _SsmHandler(BaseHTTPRequestHandler):
    server: _SsmServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        headers = {name.lower(): value for name, value in self.headers.items()}
        write_response(self, self.server.fake.answer(headers, body))


class _SsmServer(ThreadingHTTPServer):
    fake: FakeSsm


@contextmanager
def running_fake_ssm() -> Iterator[FakeSsm]:
    """A fake Tencent Cloud SSM API on a free loopback port; `url` is its endpoint."""
    server = _SsmServer(("127.0.0.1", 0), _SsmHandler)
    server.fake = FakeSsm()
    with serving(server) as url:
        server.fake.url = url
        yield server.fake
