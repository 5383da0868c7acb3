"""A loopback stand-in for RunningHub's open API: it checks each request as the API does
(JSON body, `apiKey`, `Authorization`, `Host`, the required fields of each endpoint) and
answers in the documented shapes — `{code, msg, data}` with HTTP 200 — or as a test scripts it
(an error code, an HTML page, garbage, a slow or a hanging answer). Uploads are multipart
(`apiKey`, `fileType=image`, `file`) and kept by the file name answered. It serves the result
files it hands out under `/files/` (and inputs a test puts there), recording those GETs too."""

from __future__ import annotations

import hashlib
import itertools
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.integration.cos_fake import multipart_form, serving
from tests.unit.image_support import png

RESULT = png(24, 16)
API_KEY = "rh-test-key-0123456789"  # the key of the `runninghub` fixture's fake
ENDPOINTS = (
    "/task/openapi/create",
    "/task/openapi/ai-app/run",
    "/task/openapi/outputs",
    "/task/openapi/cancel",
    "/task/openapi/upload",
)


@dataclass(frozen=True)
class Reply:
    """One scripted answer: `body` (bytes as sent) with `status`, after `delay_s`; `hang`
    keeps the connection open without a byte until the fake stops."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/json"
    delay_s: float = 0.0
    hang: bool = False


def answer(code: int, data: object = None, msg: str | None = None) -> Reply:
    """The API's envelope: `{code, msg, data}` with HTTP 200 (errors too)."""
    body = {"code": code, "msg": msg or ("success" if code == 0 else f"ERROR_{code}"), "data": data}
    return Reply(json.dumps(body).encode())


def html_page(status: int = 502) -> Reply:
    """A gateway's error page in front of the API."""
    return Reply(b"<html><body><h1>502 Bad Gateway</h1></body></html>", status, "text/html")


def prompt_tips(node_errors: object = None) -> str:
    """`promptTips` as the API sends it: stringified JSON."""
    tips = {"result": True, "error": None, "outputs_to_execute": ["9"]}
    return json.dumps({**tips, "node_errors": node_errors or {}})


def created(task_id: str, node_errors: object = None) -> Reply:
    return answer(
        0,
        {
            "netWssUrl": f"wss://example.invalid/ws?taskId={task_id}",
            "taskId": task_id,
            "clientId": "client-1",
            "taskStatus": "QUEUED",
            "promptTips": prompt_tips(node_errors),
        },
    )


def outputs(*urls: str, file_type: str = "png") -> Reply:
    return answer(
        0,
        [
            {"fileUrl": url, "fileType": file_type, "taskCostTime": "12", "nodeId": "9"}
            for url in urls
        ],
    )


def failed(exception_message: str = "CUDA out of memory") -> Reply:
    reason = {
        "node_name": "KSampler",
        "node_id": "3",
        "exception_type": "torch.OutOfMemoryError",
        "exception_message": exception_message,
        "traceback": ["File ...", "..."],
    }
    return answer(805, {"failedReason": reason}, "APIKEY_TASK_STATUS_ERROR")


def webhook(task_id: str, event_data: object) -> bytes:
    """A webhook body as RunningHub sends it: `eventData` is stringified JSON."""
    return json.dumps(
        {"event": "TASK_END", "taskId": task_id, "eventData": json.dumps(event_data)}
    ).encode()


@dataclass
class FakeRunningHub:
    """The fake's state: the accepted key, per-endpoint scripts (a reply taken per request;
    when empty, the default: tasks are created, their outputs are one PNG, cancel succeeds),
    and every request received (path, headers, body as parsed)."""

    api_key: str
    url: str = ""
    scripts: dict[str, deque[Reply]] = field(
        default_factory=lambda: {path: deque() for path in ENDPOINTS}
    )
    requests: list[dict[str, Any]] = field(default_factory=list)
    #: What `/files/` serves (results, or inputs a test puts there), and what was uploaded.
    files: dict[str, bytes] = field(default_factory=dict)
    uploads: dict[str, bytes] = field(default_factory=dict)
    # Task ids are unique across fakes, as handles are across the tests' shared database.
    _ids: Iterator[int] = field(
        default_factory=lambda: itertools.count(10**18 + secrets.randbelow(10**18) * 1000)
    )
    _stop: threading.Event = field(default_factory=threading.Event)

    def script(self, path: str, *replies: Reply) -> None:
        self.scripts[path].extend(replies)

    def file_url(self, name: str) -> str:
        self.files.setdefault(name, RESULT)
        return f"{self.url}/files/{name}"

    def bodies(self, path: str) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["path"] == path]

    def reply(self, path: str, headers: Any, raw: bytes) -> Reply:
        if path == "/task/openapi/upload":
            body, upload = _multipart(headers.get("Content-Type", ""), raw)
        else:
            body, upload = _json(raw), None
        self.requests.append({"path": path, "headers": dict(headers.items()), "body": body})
        if path not in self.scripts:
            return html_page(404)
        if headers.get("Host") != self.url.removeprefix("http://"):
            return Reply(b"Host mismatch", 400, "text/plain")
        as_json = "json" in headers.get("Content-Type", "")
        if not isinstance(body, dict) or (upload is None and not as_json):
            return answer(301, msg="PARAMS_INVALID")  # also: an upload without its file
        if body.get("apiKey") != self.api_key or headers.get("Authorization") not in (
            None,
            f"Bearer {self.api_key}",
        ):
            return answer(802, msg="APIKEY_UNAUTHORIZED")
        if not _required_fields(path, body):
            return answer(301, msg="PARAMS_INVALID")
        if self.scripts[path]:
            return self.scripts[path].popleft()
        if path in ("/task/openapi/create", "/task/openapi/ai-app/run"):
            return created(str(next(self._ids)))
        if path == "/task/openapi/outputs":
            return outputs(self.file_url(f"{body['taskId']}.png"))
        if upload is not None:
            name = f"api/{hashlib.sha256(upload).hexdigest()}.png"
            self.uploads[name] = upload
            return answer(0, {"fileName": name, "fileType": "image"})
        return answer(0)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _multipart(content_type: str, raw: bytes) -> tuple[dict[str, str] | None, bytes | None]:
    """The form fields and the `file` part of a multipart/form-data body (None: not one)."""
    if not content_type.startswith("multipart/form-data"):
        return None, None
    return multipart_form(content_type, raw)


def _required_fields(path: str, body: dict[str, Any]) -> bool:
    if path == "/task/openapi/upload":
        return body.get("fileType") == "image"
    if path in ("/task/openapi/outputs", "/task/openapi/cancel"):
        return isinstance(body.get("taskId"), str) and bool(body["taskId"])
    nodes = body.get("nodeInfoList")
    nodes_ok = isinstance(nodes, list) and all(
        isinstance(node, dict)
        and {"nodeId", "fieldName", "fieldValue"} <= node.keys()
        and isinstance(node["nodeId"], str)
        for node in nodes
    )
    if path == "/task/openapi/ai-app/run":
        webapp = body.get("webappId")
        return isinstance(webapp, int) and not isinstance(webapp, bool) and nodes_ok
    return isinstance(body.get("workflowId"), str) and (nodes is None or nodes_ok)


@contextmanager
def fake_runninghub(api_key: str) -> Iterator[FakeRunningHub]:
    """Serve a fake on a free port of 127.0.0.1 (its `url` is set), stopped on exit; a
    hanging answer is released when the fake stops."""
    hub = FakeRunningHub(api_key)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            reply = hub.reply(self.path, self.headers, raw)
            if reply.hang:
                hub._stop.wait()
                return
            time.sleep(reply.delay_s)
            self._send(reply.status, reply.body, reply.content_type)

        def do_GET(self) -> None:
            hub.requests.append({"path": self.path, "headers": dict(self.headers.items())})
            name = self.path.removeprefix("/files/")
            if not self.path.startswith("/files/") or name not in hub.files:
                self._send(404, b"not found", "text/plain")
                return
            self._send(200, hub.files[name], "image/png")

        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests assert on the recorded requests."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    with serving(server) as url:
        hub.url = url
        try:
            yield hub
        finally:
            hub._stop.set()  # a hanging answer returns, so the server can stop
