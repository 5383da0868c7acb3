"""A loopback stand-in for one Tencent COS bucket, objects in memory.

It checks what COS checks for our use: the request signature (q-sign-algorithm sha1, in the
Authorization header or the query of a presigned URL) and the POST Object form's signed
policy (signature, expiry, exact fields, content-length-range). The signatures are computed
here from COS's documentation, not with the adapter's code, so a mistake there shows.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.parser import BytesParser
from email.policy import HTTP
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

SECRET_ID = "AKIDfakecos0123456789"
SECRET_KEY = "fake-cos-secret-key-0123456789"


@dataclass
class StoredObject:
    data: bytes
    content_type: str
    modified: float
    #: The x-cos-server-side-encryption the PUT asked for (None: not asked).
    encryption: str | None = None

    @property
    def etag(self) -> str:
        return hashlib.md5(self.data).hexdigest()  # noqa: S324 - an ETag, as COS computes it


@dataclass
class FakeCos:
    """One bucket's objects and the requests it refused (reason strings, for assertions)."""

    bucket: str
    objects: dict[str, StoredObject] = field(default_factory=dict)
    refusals: list[str] = field(default_factory=list)
    url: str = ""


def _hex_hmac_sha1(key: str, message: str) -> str:
    return hmac.new(key.encode(), message.encode(), hashlib.sha1).hexdigest()


def _encoded(pairs: Mapping[str, str]) -> str:
    return "&".join(
        f"{quote(name, '-_.~').lower()}={quote(value, '-_.~')}"
        for name, value in sorted(pairs.items(), key=lambda item: quote(item[0], "-_.~").lower())
    )


def request_signature_error(
    method: str, path: str, query: Mapping[str, str], headers: Mapping[str, str]
) -> str | None:
    """Why the COS request signature of a request is wrong, or None when it is right."""
    authorization = headers.get("authorization") or ""
    parts = dict(parse_qsl(authorization)) if authorization else dict(query)
    if parts.get("q-sign-algorithm") != "sha1" or parts.get("q-ak") != SECRET_ID:
        return "unsigned or unknown key"
    start, _, end = parts.get("q-key-time", "").partition(";")
    if not (start.isdigit() and end.isdigit() and int(start) <= time.time() <= int(end)):
        return "signature expired"
    header_names = [name for name in parts.get("q-header-list", "").split(";") if name]
    param_names = [name for name in parts.get("q-url-param-list", "").split(";") if name]
    signed_headers = {
        name: headers.get(name, "").split(":")[0] if name == "host" else headers.get(name, "")
        for name in header_names
    }
    lowered_query = {name.lower(): value for name, value in query.items()}
    signed_params = {name: lowered_query.get(name, "") for name in param_names}
    params, headers_text = _encoded(signed_params), _encoded(signed_headers)
    http_string = f"{method.lower()}\n{unquote(path)}\n{params}\n{headers_text}\n"
    digest = hashlib.sha1(http_string.encode()).hexdigest()  # noqa: S324 - COS's scheme
    string_to_sign = f"sha1\n{parts['q-key-time']}\n{digest}\n"
    sign_key = _hex_hmac_sha1(SECRET_KEY, parts["q-key-time"])
    if not hmac.compare_digest(_hex_hmac_sha1(sign_key, string_to_sign), parts["q-signature"]):
        return "signature mismatch"
    return None


def form_policy_error(bucket: str, form: Mapping[str, str], size: int) -> str | None:
    """Why a POST Object form breaks its signed policy, or None when COS would accept it."""
    try:
        policy_text = base64.b64decode(form["policy"]).decode()
        policy = json.loads(policy_text)
    except (KeyError, ValueError):
        return "no policy"
    sign_key = _hex_hmac_sha1(SECRET_KEY, form.get("q-key-time", ""))
    string_to_sign = hashlib.sha1(policy_text.encode()).hexdigest()  # noqa: S324 - COS's scheme
    expected = _hex_hmac_sha1(sign_key, string_to_sign)
    if form.get("q-ak") != SECRET_ID or not hmac.compare_digest(
        expected, form.get("q-signature", "")
    ):
        return "form signature mismatch"
    expiration = datetime.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%S.000Z")
    if expiration.replace(tzinfo=timezone.utc).timestamp() < time.time():
        return "policy expired"
    values = {**{name.lower(): value for name, value in form.items()}, "bucket": bucket}
    values["q-sign-time"] = form.get("q-key-time", "")
    for condition in policy["conditions"]:
        if isinstance(condition, dict):
            ((name, value),) = condition.items()
            if values.get(name.lower()) != value:
                return f"condition {name} not met"
        elif condition[0] == "content-length-range":
            if not condition[1] <= size <= condition[2]:
                return "content-length-range not met"
        else:
            return f"unknown condition {condition[0]}"
    return None


class _CosHandler(BaseHTTPRequestHandler):
    server: _CosServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _answer(
        self, status: int, body: bytes = b"", headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse(self, status: int, reason: str) -> None:
        self.server.fake.refusals.append(reason)
        body = f"<Error><Code>AccessDenied</Code><Message>{reason}</Message></Error>"
        self._answer(status, body.encode(), {"Content-Type": "application/xml"})

    def _object_request(self) -> tuple[str, StoredObject | None] | None:
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        error = request_signature_error(self.command, url.path, dict(parse_qsl(url.query)), headers)
        if error is not None:
            self._refuse(403, error)
            return None
        key = unquote(url.path).lstrip("/")
        return key, self.server.fake.objects.get(key)

    def _read_body(self) -> bytes:
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def do_PUT(self) -> None:
        body = self._read_body()
        found = self._object_request()
        if found is not None:
            content_type = self.headers.get("Content-Type", "application/octet-stream")
            self.server.fake.objects[found[0]] = StoredObject(
                body,
                content_type,
                time.time(),
                self.headers.get("x-cos-server-side-encryption"),
            )
            self._answer(200, headers={"ETag": f'"{self.server.fake.objects[found[0]].etag}"'})

    def do_GET(self) -> None:
        found = self._object_request()
        if found is None:
            return
        _, stored = found
        if stored is None:
            self._answer(404, b"<Error><Code>NoSuchKey</Code></Error>")
            return
        self._answer(
            200,
            stored.data,
            {
                "Content-Type": stored.content_type,
                "ETag": f'"{stored.etag}"',
                "Last-Modified": formatdate(stored.modified, usegmt=True),
            },
        )

    do_HEAD = do_GET

    def do_DELETE(self) -> None:
        found = self._object_request()
        if found is not None:
            self.server.fake.objects.pop(found[0], None)
            self._answer(204)

    def do_POST(self) -> None:
        form, file = multipart_form(self.headers["Content-Type"], self._read_body())
        if file is None:
            self._refuse(400, "no file")
            return
        error = form_policy_error(self.server.fake.bucket, form, len(file))
        if error is not None:
            self._refuse(403, error)
            return
        content_type = form.get("Content-Type", "application/octet-stream")
        self.server.fake.objects[form["key"]] = StoredObject(file, content_type, time.time())
        self._answer(204)


def multipart_form(content_type: str, body: bytes) -> tuple[dict[str, str], bytes | None]:
    """The text fields and the `file` part of a multipart/form-data body (a fake's upload)."""
    message = BytesParser(policy=HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body
    )
    form: dict[str, str] = {}
    file: bytes | None = None
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name == "file":
            file = bytes(payload)
        elif isinstance(name, str):
            form[name] = bytes(payload).decode()
    return form, file


class _CosServer(ThreadingHTTPServer):
    fake: FakeCos


@contextmanager
def serving(server: ThreadingHTTPServer) -> Iterator[str]:
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@contextmanager
def running_fake_cos(bucket: str) -> Iterator[FakeCos]:
    """A fake COS bucket on a free loopback port; `url` is its endpoint."""
    server = _CosServer(("127.0.0.1", 0), _CosHandler)
    server.fake = FakeCos(bucket=bucket)
    with serving(server) as url:
        server.fake.url = url
        yield server.fake
